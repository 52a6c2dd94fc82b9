//! Where each field of a config file is written.
//!
//! Semantic problems are found on the deserialized [`Config`](super::Config), which has forgotten
//! its source text; this map from dotted field path (`startup.service_checklist[1].url`) to line
//! and column lets them point back at the file.
//! YAML is walked with yaml-rust2's event parser, TOML with `toml_edit`'s spans.

use std::collections::BTreeMap;
use std::ops::Range;
use toml_edit::{Item, Table, Value};
use yaml_rust2::parser::{Event, Parser};

/// A 1-based line and column (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Position {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

/// Where one field is written.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    /// Start of its value (for a mapping or table: its first key or its header).
    value: Position,
    /// Bytes from its key (or value) to the end of its value, when known (TOML only).
    extent: Option<Range<usize>>,
}

/// Field path -> position, for one config text.
#[derive(Debug, Default)]
pub(crate) struct Locations {
    entries: BTreeMap<String, Entry>,
    /// Where a field is written a second time (YAML: serde refuses it, at the first).
    again: BTreeMap<String, Position>,
}

/// The parent of a dotted path: `a.b[2]` -> `a.b`, `a.b` -> `a`, `a` -> the root (empty path).
pub(crate) fn parent(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    let cut = if path.ends_with(']') { path.rfind('[') } else { path.rfind('.') };
    Some(cut.map_or("", |i| &path[..i]))
}

/// `parent` + `.` + `key`, without a leading dot at the root.
pub(crate) fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

impl Locations {
    /// The position of `path`'s value, or of its nearest ancestor that is written in the file
    /// (a missing or defaulted field points at the mapping that should hold it).
    pub(crate) fn locate(&self, path: &str) -> Option<Position> {
        let mut at = Some(path);
        while let Some(p) = at {
            if let Some(entry) = self.entries.get(p) {
                return Some(entry.value);
            }
            at = parent(p);
        }
        None
    }

    /// The deepest field whose key or value covers byte `offset` (TOML only).
    pub(crate) fn path_at(&self, offset: usize) -> Option<&str> {
        self.entries
            .iter()
            .filter(|(_, e)| e.extent.as_ref().is_some_and(|r| r.contains(&offset)))
            // A one-table array of tables spans exactly its table: prefer the deeper path.
            .min_by_key(|(p, e)| (e.extent.as_ref().map_or(usize::MAX, ExactSizeIterator::len), usize::MAX - p.len()))
            .map(|(p, _)| p.as_str())
    }

    /// Where `path` is written a second time, if it is.
    pub(crate) fn again(&self, path: &str) -> Option<Position> {
        self.again.get(path).copied()
    }

    fn insert(&mut self, path: String, entry: Entry) {
        if self.entries.contains_key(&path) {
            self.again.entry(path).or_insert(entry.value);
            return;
        }
        self.entries.insert(path, entry);
    }

    /// Walk YAML text. Best effort: stops quietly at a syntax error (the deserializer reports it).
    pub(crate) fn yaml(text: &str) -> Self {
        let mut out = Self::default();
        let mut walk = YamlWalk::default();
        let mut parser = Parser::new_from_str(text);
        while let Ok((event, mark)) = parser.next_token() {
            if matches!(event, Event::StreamEnd | Event::DocumentEnd) {
                break;
            }
            let at = Position { line: mark.line(), column: mark.col() + 1 };
            match walk.step(event, mark.index()) {
                Some(Step::Node(path)) => out.insert(path, Entry { value: at, extent: None }),
                // yaml-rust2 marks a block mapping one character after its first key: use the key.
                Some(Step::FirstKey(path)) => {
                    out.entries.insert(path, Entry { value: at, extent: None });
                }
                None => {}
            }
        }
        out
    }

    /// Walk TOML text. Best effort: empty when the text does not parse.
    pub(crate) fn toml(text: &str) -> Self {
        let mut out = Self::default();
        if let Ok(doc) = toml_edit::Document::parse(text) {
            let lines = LineIndex::new(text);
            out.insert(String::new(), Entry { value: Position { line: 1, column: 1 }, extent: None });
            out.toml_table("", doc.as_table(), &lines);
        }
        out
    }

    fn toml_table(&mut self, path: &str, table: &Table, lines: &LineIndex<'_>) {
        for (key, item) in table {
            let key_span = table.key(key).and_then(toml_edit::Key::span);
            self.toml_item(&join(path, key), key_span.as_ref(), item, lines);
        }
    }

    fn toml_item(&mut self, path: &str, key: Option<&Range<usize>>, item: &Item, lines: &LineIndex<'_>) {
        self.toml_entry(path, key, item.span().as_ref(), lines);
        match item {
            Item::Table(table) => self.toml_table(path, table, lines),
            Item::ArrayOfTables(tables) => {
                for (i, table) in tables.iter().enumerate() {
                    let at = format!("{path}[{i}]");
                    self.toml_entry(&at, None, table.span().as_ref(), lines);
                    self.toml_table(&at, table, lines);
                }
            }
            Item::Value(value) => self.toml_value(path, value, lines),
            Item::None => {}
        }
    }

    fn toml_value(&mut self, path: &str, value: &Value, lines: &LineIndex<'_>) {
        match value {
            Value::Array(array) => {
                for (i, v) in array.iter().enumerate() {
                    let at = format!("{path}[{i}]");
                    self.toml_entry(&at, None, v.span().as_ref(), lines);
                    self.toml_value(&at, v, lines);
                }
            }
            Value::InlineTable(table) => {
                for (key, v) in table {
                    let at = join(path, key);
                    let key_span = table.key(key).and_then(toml_edit::Key::span);
                    self.toml_entry(&at, key_span.as_ref(), v.span().as_ref(), lines);
                    self.toml_value(&at, v, lines);
                }
            }
            _ => {}
        }
    }

    fn toml_entry(
        &mut self,
        path: &str,
        key: Option<&Range<usize>>,
        value: Option<&Range<usize>>,
        lines: &LineIndex<'_>,
    ) {
        let Some(span) = value.or(key) else { return };
        let (start, end) = (span.start, span.end);
        let from = key.map_or(start, |k| k.start.min(start));
        self.insert(path.to_owned(), Entry { value: lines.position(start), extent: Some(from..end.max(from + 1)) });
    }
}

/// Byte offset -> line and column.
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    /// Index the line starts of `text`.
    pub(crate) fn new(text: &'a str) -> Self {
        let starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        Self { text, starts }
    }

    /// The 1-based line and column of byte `offset`.
    pub(crate) fn position(&self, offset: usize) -> Position {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset);
        let start = self.starts[line - 1];
        let column = self.text.get(start..offset).map_or(offset - start, |s| s.chars().count()) + 1;
        Position { line, column }
    }
}

/// The state of a walk over YAML events: which mapping or sequence we are in.
#[derive(Default)]
struct YamlWalk {
    stack: Vec<Frame>,
    /// Depth inside a complex (non-scalar) mapping key, which is skipped.
    skipping: usize,
}

enum Frame {
    /// A mapping that starts at byte `start`; `key` holds the key read and waiting for its value.
    Map { path: String, key: Option<String>, start: usize, keys: usize },
    /// A sequence; `next` is the index of the next item.
    Seq { path: String, next: usize },
}

/// What an event told the walk.
enum Step {
    /// A value node starts here.
    Node(String),
    /// The first key of a block mapping starts here, before the mapping's own mark.
    FirstKey(String),
}

impl YamlWalk {
    /// Feed one event that starts at byte `index`.
    fn step(&mut self, event: Event, index: usize) -> Option<Step> {
        let opens = matches!(event, Event::MappingStart(..) | Event::SequenceStart(..));
        match event {
            Event::Scalar(..) | Event::Alias(_) | Event::MappingStart(..) | Event::SequenceStart(..) => {
                if self.skipping > 0 {
                    self.skipping += usize::from(opens);
                    return None;
                }
                if let Some(Frame::Map { path, key: key @ None, start, keys }) = self.stack.last_mut() {
                    *key = Some(if let Event::Scalar(text, ..) = event {
                        text
                    } else {
                        self.skipping = usize::from(opens);
                        "?".to_owned()
                    });
                    *keys += 1;
                    return (*keys == 1 && index < *start).then(|| Step::FirstKey(path.clone()));
                }
                let path = match self.stack.last_mut() {
                    None => String::new(),
                    Some(Frame::Map { path, key, .. }) => join(path, &key.take().unwrap_or_default()),
                    Some(Frame::Seq { path, next }) => {
                        *next += 1;
                        format!("{path}[{}]", *next - 1)
                    }
                };
                match event {
                    Event::MappingStart(..) => {
                        self.stack.push(Frame::Map { path: path.clone(), key: None, start: index, keys: 0 });
                    }
                    Event::SequenceStart(..) => self.stack.push(Frame::Seq { path: path.clone(), next: 0 }),
                    _ => {}
                }
                Some(Step::Node(path))
            }
            Event::MappingEnd | Event::SequenceEnd => {
                if self.skipping > 0 {
                    self.skipping -= 1;
                } else {
                    self.stack.pop();
                }
                None
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(line: usize, column: usize) -> Position {
        Position { line, column }
    }

    #[test]
    fn parent_walks_up_dotted_and_indexed_paths() {
        assert_eq!(parent("a.b[2].c"), Some("a.b[2]"));
        assert_eq!(parent("a.b[2]"), Some("a.b"));
        assert_eq!(parent("a"), Some(""));
        assert_eq!(parent(""), None);
    }

    #[test]
    fn yaml_positions_of_block_and_flow_nodes() {
        let text = "a:\n  b: 1\n  list:\n    - x\n    - {k: v}\n? [complex]\n: skipped\nc: 'q'\n";
        let loc = Locations::yaml(text);
        assert_eq!(loc.locate(""), Some(pos(1, 1)));
        assert_eq!(loc.locate("a"), Some(pos(2, 3)));
        assert_eq!(loc.locate("a.b"), Some(pos(2, 6)));
        assert_eq!(loc.locate("a.list[0]"), Some(pos(4, 7)));
        assert_eq!(loc.locate("a.list[1].k"), Some(pos(5, 11)));
        assert_eq!(loc.locate("c"), Some(pos(8, 4)));
        // A missing field points at the mapping that should hold it.
        assert_eq!(loc.locate("a.list[1].missing"), Some(pos(5, 7)));
    }

    #[test]
    fn yaml_syntax_error_keeps_what_was_read() {
        let loc = Locations::yaml("a: 1\nb: [\n");
        assert_eq!(loc.locate("a"), Some(pos(1, 4)));
    }

    #[test]
    fn toml_positions_and_paths_at_offsets() {
        let text = "a = 1\n[t]\nb = \"x\"\narr = [1, {k = 2}]\n[[list]]\nname = \"n\"\n";
        let header = text.find("[[list]]").unwrap_or_default();
        let loc = Locations::toml(text);
        assert_eq!(loc.locate("a"), Some(pos(1, 5)));
        assert_eq!(loc.locate("t"), Some(pos(2, 1)));
        assert_eq!(loc.locate("t.b"), Some(pos(3, 5)));
        assert_eq!(loc.locate("t.arr[1].k"), Some(pos(4, 16)));
        assert_eq!(loc.locate("list[0].name"), Some(pos(6, 8)));
        assert_eq!(loc.locate("list[0].missing"), Some(pos(5, 1)));
        assert_eq!(loc.path_at(text.find("b =").unwrap_or_default()), Some("t.b"));
        assert_eq!(loc.path_at(text.find("k =").unwrap_or_default()), Some("t.arr[1].k"));
        assert_eq!(loc.path_at(header), Some("list[0]"));
    }

    #[test]
    fn line_index_counts_characters() {
        let lines = LineIndex::new("é = 1\nxy");
        assert_eq!(lines.position(4), Position { line: 1, column: 4 });
        assert_eq!(lines.position(8), Position { line: 2, column: 2 });
    }
}
