//! The one certificate fact a check needs: when the peer certificate expires (`notAfter`).
//!
//! A small DER reader walks `Certificate -> tbsCertificate -> validity` and decodes the `UTCTime` or
//! `GeneralizedTime` there. It stands in for a full X.509 parser (and its dependency tree), because
//! nothing else of the certificate is read: rustls has already verified the chain.

/// One DER element: its tag and contents, and what follows it.
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The contents of the SEQUENCE at the start of `input`.
fn sequence(input: &[u8]) -> Option<&[u8]> {
    element(input).and_then(|(tag, body, _)| (tag == 0x30).then_some(body))
}

/// `notAfter` of the DER certificate `der`, in seconds since the Unix epoch.
pub(crate) fn not_after(der: &[u8]) -> Option<i64> {
    let tbs = sequence(sequence(der)?)?;
    let mut rest = tbs;
    // version [0] EXPLICIT, optional.
    if rest.first() == Some(&0xa0) {
        rest = element(rest)?.2;
    }
    // serialNumber, signature, issuer.
    for expected in [0x02, 0x30, 0x30] {
        let (tag, _, next) = element(rest)?;
        if tag != expected {
            return None;
        }
        rest = next;
    }
    let validity = sequence(rest)?;
    let (_, _, after_not_before) = element(validity)?;
    let (tag, time, _) = element(after_not_before)?;
    decode_time(tag, time)
}

/// Decode a `UTCTime` (`YYMMDDHHMMSSZ`) or `GeneralizedTime` (`YYYYMMDDHHMMSSZ`) as Unix seconds.
fn decode_time(tag: u8, text: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(text).ok()?.strip_suffix('Z')?;
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |range: std::ops::Range<usize>| text.get(range).and_then(|s| s.parse::<i64>().ok());
    let (year, rest) = match (tag, text.len()) {
        (0x17, 12) => {
            let yy = num(0..2)?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, 2)
        }
        (0x18, 14) => (num(0..4)?, 4),
        _ => return None,
    };
    let field = |i: usize| num(rest + 2 * i..rest + 2 * i + 2);
    let (month, day, hour, minute, second) = (field(0)?, field(1)?, field(2)?, field(3)?, field(4)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        match body.len() {
            n @ 0..=0x7f => out.push(u8::try_from(n).unwrap()),
            n @ 0x80..=0xff => out.extend([0x81, u8::try_from(n).unwrap()]),
            n => out.extend([0x82, u8::try_from(n >> 8).unwrap(), u8::try_from(n & 0xff).unwrap()]),
        }
        out.extend_from_slice(body);
        out
    }

    fn cert(version: bool, not_after: (u8, &str)) -> Vec<u8> {
        let mut tbs = Vec::new();
        if version {
            tbs.extend(tlv(0xa0, &tlv(0x02, &[2])));
        }
        tbs.extend(tlv(0x02, &[0x01, 0x02]));
        tbs.extend(tlv(0x30, &tlv(0x06, &[0x2a, 0x86, 0x48])));
        tbs.extend(tlv(0x30, &[0u8; 200]));
        let mut validity = tlv(0x17, b"200101000000Z");
        validity.extend(tlv(not_after.0, not_after.1.as_bytes()));
        tbs.extend(tlv(0x30, &validity));
        tbs.extend(tlv(0x30, &[]));
        let mut certificate = tlv(0x30, &tbs);
        certificate.extend(tlv(0x30, &[]));
        tlv(0x30, &certificate)
    }

    #[test]
    fn reads_not_after_in_both_time_forms() {
        assert_eq!(not_after(&cert(true, (0x17, "300101000000Z"))), Some(1_893_456_000));
        assert_eq!(not_after(&cert(false, (0x18, "20300101000000Z"))), Some(1_893_456_000));
        assert_eq!(not_after(&cert(true, (0x17, "991231235959Z"))), Some(946_684_799));
        assert_eq!(not_after(&cert(true, (0x18, "20240229120000Z"))), Some(1_709_208_000));
    }

    #[test]
    fn refuses_what_is_not_a_certificate() {
        assert_eq!(not_after(b""), None);
        assert_eq!(not_after(&[0x30, 0x85, 0, 0, 0, 0, 0]), None);
        assert_eq!(not_after(&[0x30, 0x05, 0x30]), None);
        assert_eq!(not_after(&cert(true, (0x17, "3001010000Z"))), None);
        assert_eq!(not_after(&cert(true, (0x17, "301301000000Z"))), None);
        assert_eq!(not_after(&cert(true, (0x17, "30010100000aZ"))), None);
        assert_eq!(not_after(&cert(true, (0x04, "300101000000Z"))), None);
        assert_eq!(not_after(&tlv(0x30, &tlv(0x30, &tlv(0x04, &[])))), None);
    }
}
