//! One pass over a JSON body with serde that measures it without building it: every
//! string, number, literal and key at the bytes of its JSON text, decoded (escapes,
//! whitespace and key order change nothing); and whether the body holds anything whose
//! cost is not its bytes (media, tools, fields a native upstream acts on), for the parsed
//! walk. Nothing is allocated: strings arrive borrowed or in serde_json's scratch buffer.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};

use super::SYNTAX_TOKENS;
use crate::pricing::CacheAsk;

/// What one pass found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Scan {
    /// The body at one token per byte of its JSON text, plus syntax.
    pub tokens: u64,
    /// Something in it costs other than its bytes (the parsed walk must price it).
    pub marked: bool,
    /// The cache writes it asks for: a `cache_control` key, a `ttl` of `1h`.
    pub cache: CacheAsk,
}

/// Why a body cannot be measured.
#[derive(Debug, PartialEq, Eq)]
pub enum ScanError {
    /// Not JSON, or nested deeper than serde_json reads.
    Invalid,
    /// An object names a key that decides the price twice: upstreams disagree on which
    /// one counts, so the request is ambiguous.
    Duplicate(&'static str),
}

/// `type` values of content whose cost is not its bytes.
const MARKED_TYPES: [&str; 7] = [
    "image_url",
    "image",
    "input_image",
    "document",
    "file",
    "input_file",
    "item_reference",
];

/// Keys that decide the price: a second one in the same object is refused; all but
/// `type` (whose value decides) mark the body by their presence.
const PRICED_KEYS: [&str; 17] = [
    "type",
    "tools",
    "mcp_servers",
    "background",
    "conversation",
    "prompt",
    "max_tool_calls",
    "source",
    "data",
    "file",
    "file_data",
    "image_url",
    "max_uses",
    "max_content_tokens",
    "cache_control",
    "ttl",
    "web_search_options",
];

// `Node::visit_map` keeps the keys it saw in a u32.
const _: () = assert!(PRICED_KEYS.len() <= 32);

/// Where `cache_control` and `ttl` stand in `PRICED_KEYS`.
const CACHE_CONTROL: usize = 14;
const TTL: usize = 15;
/// Where `web_search_options` (OpenAI's search models: every call searches) stands.
const WEB_SEARCH_OPTIONS: usize = 16;

pub fn scan(body: &[u8]) -> Result<Scan, ScanError> {
    let mut scan = Scan::default();
    let mut failure = None;
    let mut de = serde_json::Deserializer::from_slice(body);
    let node = Node {
        scan: &mut scan,
        failure: &mut failure,
        type_value: false,
        ttl_value: false,
    };
    let read = node.deserialize(&mut de).and_then(|()| de.end());
    match (read, failure) {
        (_, Some(duplicate)) => Err(ScanError::Duplicate(duplicate)),
        (Err(_), None) => Err(ScanError::Invalid),
        (Ok(()), None) => Ok(scan),
    }
}

/// Bytes of a string's JSON text between its quotes (serde_json's escapes).
pub fn escaped_len(s: &str) -> u64 {
    let extra: u64 = s
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 1,
            0..=0x1f => 5,
            _ => 0,
        })
        .sum();
    s.len() as u64 + extra
}

/// The cost of a scalar (a container costs its syntax and its parts).
pub fn plain_cost(v: &Value) -> u64 {
    match v {
        Value::Null | Value::Bool(true) => 4,
        Value::Bool(false) => 5,
        Value::Number(n) => number_len(n),
        Value::String(s) => escaped_len(s) + 2,
        Value::Array(_) | Value::Object(_) => 0,
    }
}

fn number_len(n: &Number) -> u64 {
    if let Some(i) = n.as_i64() {
        int_len(i as i128)
    } else if let Some(u) = n.as_u64() {
        int_len(u as i128)
    } else {
        float_len(n.as_f64().unwrap_or(0.0))
    }
}

fn int_len(i: i128) -> u64 {
    let mut len = if i < 0 { 2 } else { 1 };
    let mut rest = i.unsigned_abs();
    while rest >= 10 {
        rest /= 10;
        len += 1;
    }
    len
}

/// A float as a renderer writes it: its shortest decimal, at most 25 characters (Python's
/// and JavaScript's exponent forms, e.g. `-1.7976931348623157e+308`).
fn float_len(f: f64) -> u64 {
    struct Count(u64);
    impl fmt::Write for Count {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.0 += s.len() as u64;
            Ok(())
        }
    }
    let mut count = Count(0);
    let _ = fmt::write(&mut count, format_args!("{f}"));
    count.0.min(25)
}

struct Node<'a> {
    scan: &'a mut Scan,
    failure: &'a mut Option<&'static str>,
    /// This value is a `type` key's.
    type_value: bool,
    /// This value is a `ttl` key's.
    ttl_value: bool,
}

impl Node<'_> {
    fn add(&mut self, tokens: u64) {
        self.scan.tokens = self.scan.tokens.saturating_add(tokens);
    }
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("JSON")
    }

    fn visit_bool<E: de::Error>(mut self, b: bool) -> Result<(), E> {
        self.add(plain_cost(&Value::Bool(b)));
        Ok(())
    }

    fn visit_i64<E: de::Error>(mut self, n: i64) -> Result<(), E> {
        self.add(int_len(n as i128));
        Ok(())
    }

    fn visit_u64<E: de::Error>(mut self, n: u64) -> Result<(), E> {
        self.add(int_len(n as i128));
        Ok(())
    }

    fn visit_f64<E: de::Error>(mut self, n: f64) -> Result<(), E> {
        self.add(float_len(n));
        Ok(())
    }

    fn visit_str<E: de::Error>(mut self, s: &str) -> Result<(), E> {
        self.add(escaped_len(s) + 2);
        if self.type_value && MARKED_TYPES.contains(&s) {
            self.scan.marked = true;
        }
        if self.ttl_value && s == "1h" {
            self.scan.cache = CacheAsk::OneHour;
        }
        Ok(())
    }

    fn visit_unit<E: de::Error>(mut self) -> Result<(), E> {
        self.add(4);
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let (scan, failure) = (self.scan, self.failure);
        scan.tokens = scan.tokens.saturating_add(SYNTAX_TOKENS);
        loop {
            let element = Node {
                scan: &mut *scan,
                failure: &mut *failure,
                type_value: false,
                ttl_value: false,
            };
            if seq.next_element_seed(element)?.is_none() {
                return Ok(());
            }
            scan.tokens = scan.tokens.saturating_add(SYNTAX_TOKENS);
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (scan, failure) = (self.scan, self.failure);
        scan.tokens = scan.tokens.saturating_add(SYNTAX_TOKENS);
        let mut seen: u32 = 0;
        while let Some(priced) = map.next_key_seed(Key { scan: &mut *scan })? {
            if let Some(i) = priced {
                if seen & (1 << i) != 0 {
                    *failure = Some(PRICED_KEYS[i]);
                    return Err(de::Error::custom("duplicate key"));
                }
                seen |= 1 << i;
            }
            map.next_value_seed(Node {
                scan: &mut *scan,
                failure: &mut *failure,
                type_value: priced == Some(0),
                ttl_value: priced == Some(TTL),
            })?;
        }
        Ok(())
    }
}

/// An object key: its cost, and which priced key it is.
struct Key<'a> {
    scan: &'a mut Scan,
}

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Option<usize>, E> {
        let cost = escaped_len(s) + 3 + SYNTAX_TOKENS;
        self.scan.tokens = self.scan.tokens.saturating_add(cost);
        let priced = PRICED_KEYS.iter().position(|k| *k == s);
        if priced.is_some_and(|i| (i > 0 && i <= 5) || i == WEB_SEARCH_OPTIONS) {
            self.scan.marked = true;
        }
        if priced == Some(CACHE_CONTROL) {
            self.scan.cache = self.scan.cache.max(CacheAsk::FiveMinutes);
        }
        Ok(priced)
    }
}
