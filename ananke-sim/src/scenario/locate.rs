//! Where each field of a scenario file is written, so semantic problems can name a line.
//!
//! The deserialized [`Scenario`](super::Scenario) has forgotten its text; this walks the YAML
//! events once and maps dotted paths (`components[3].depends_on[1]`) to the line and column of
//! their key (or, for sequence items, of the item).

use std::collections::HashMap;
use yaml_rust2::parser::{Event, Parser};

/// Path -> (line, column), both 1-based.
#[derive(Debug, Default)]
pub(crate) struct Locations {
    at: HashMap<String, (usize, usize)>,
}

enum Frame {
    Map { path: String, key: Option<String>, first: bool },
    Seq { path: String, next: usize },
}

impl Locations {
    /// Walk `text`. Best effort: stops quietly at a syntax error (the deserializer reports it).
    pub(crate) fn yaml(text: &str) -> Self {
        let mut out = Self::default();
        let mut stack: Vec<Frame> = Vec::new();
        let mut parser = Parser::new_from_str(text);
        while let Ok((event, mark)) = parser.next_token() {
            let pos = (mark.line(), mark.col() + 1);
            match event {
                Event::StreamEnd | Event::DocumentEnd => break,
                Event::MappingStart(..) | Event::SequenceStart(..) => {
                    let path = out.value_path(&mut stack, pos);
                    stack.push(if matches!(event, Event::MappingStart(..)) {
                        Frame::Map { path, key: None, first: true }
                    } else {
                        Frame::Seq { path, next: 0 }
                    });
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                }
                Event::Scalar(value, ..) => {
                    if let Some(Frame::Map { path, key: key @ None, first }) = stack.last_mut() {
                        // yaml-rust2 marks a block mapping after its first key: use the key instead.
                        if std::mem::take(first) && !path.is_empty() {
                            out.at.insert(path.clone(), pos);
                        }
                        let full = if path.is_empty() { value.clone() } else { format!("{path}.{value}") };
                        out.at.entry(full).or_insert(pos);
                        *key = Some(value);
                    } else {
                        out.value_path(&mut stack, pos);
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// The path of a value starting now, consuming the pending key or sequence slot.
    fn value_path(&mut self, stack: &mut [Frame], pos: (usize, usize)) -> String {
        match stack.last_mut() {
            None => String::new(),
            Some(Frame::Map { path, key, .. }) => {
                let k = key.take().unwrap_or_default();
                if path.is_empty() {
                    k
                } else {
                    format!("{path}.{k}")
                }
            }
            Some(Frame::Seq { path, next }) => {
                let p = format!("{path}[{next}]");
                *next += 1;
                self.at.entry(p.clone()).or_insert(pos);
                p
            }
        }
    }

    /// The position of `path`, or of its nearest written ancestor.
    pub(crate) fn locate(&self, path: &str) -> Option<(usize, usize)> {
        let mut p = path;
        loop {
            if let Some(pos) = self.at.get(p) {
                return Some(*pos);
            }
            let cut = if p.ends_with(']') { p.rfind('[') } else { p.rfind('.') };
            p = &p[..cut?];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Locations;

    #[test]
    fn paths_map_to_lines() {
        let text = "name: x\nnodes:\n  - name: a\n    role: server\n  - name: b\nlist: [1, 2]\n";
        let l = Locations::yaml(text);
        assert_eq!(l.locate("name"), Some((1, 1)));
        assert_eq!(l.locate("nodes[1].name"), Some((5, 5)));
        assert_eq!(l.locate("nodes[0].role"), Some((4, 5)));
        assert_eq!(l.locate("nodes[0].missing"), Some((3, 5)));
        assert_eq!(l.locate("list[1]").map(|p| p.0), Some(6));
        assert_eq!(l.locate("nowhere"), None);
    }
}
