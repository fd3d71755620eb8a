//! Pages of a PDF, however the file writes them: page objects (`/Type /Page`, with any
//! white space or none between the names, `#xx` escapes in names decoded) in the file
//! itself and inside its compressed object streams (`/ObjStm`, inflated up to a bound).

use std::io::Read;

/// Most bytes inflated from one file's object streams (a zip bomb stops here).
const MAX_INFLATED: u64 = 64 << 20;

/// Whether the bytes are a PDF (its header within the first KiB, as readers accept).
pub fn is_pdf(bytes: &[u8]) -> bool {
    memchr::memmem::find(&bytes[..bytes.len().min(1024)], b"%PDF-").is_some()
}

/// The page objects of a PDF; `None` when some cannot be read (an object stream that does
/// not inflate, or more than `MAX_INFLATED` of them) or none is found.
pub fn pages(pdf: &[u8]) -> Option<u64> {
    let mut pages = page_objects(pdf);
    let mut budget = MAX_INFLATED;
    let mut at = 0;
    while let Some(found) = memchr::memmem::find(&pdf[at..], b"stream") {
        let keyword = at + found;
        at = keyword + b"stream".len();
        if keyword >= 3 && &pdf[keyword - 3..keyword] == b"end" {
            continue;
        }
        let dict_from = memchr::memmem::rfind(&pdf[..keyword], b"obj").unwrap_or(0);
        if !names(&pdf[dict_from..keyword]).any(|n| n == b"ObjStm") {
            continue;
        }
        let mut start = at;
        if pdf.get(start) == Some(&b'\r') {
            start += 1;
        }
        if pdf.get(start) == Some(&b'\n') {
            start += 1;
        }
        let mut inflated = Vec::new();
        let read = flate2::read::ZlibDecoder::new(&pdf[start..])
            .take(budget + 1)
            .read_to_end(&mut inflated);
        if read.is_err() || inflated.len() as u64 > budget {
            return None;
        }
        budget -= inflated.len() as u64;
        pages += page_objects(&inflated);
    }
    (pages > 0).then_some(pages)
}

/// `/Type /Page` dictionaries (not `/Pages`) in plain PDF text.
fn page_objects(text: &[u8]) -> u64 {
    let mut count = 0;
    let mut after_type: Option<usize> = None;
    let mut tokens = NameTokens { text, at: 0 };
    while let Some((start, end, name)) = tokens.next_name() {
        if let Some(type_end) = after_type.take() {
            let between = &text[type_end..start];
            if name == b"Page" && between.iter().all(|b| is_white(*b)) {
                count += 1;
            }
        }
        if name == b"Type" {
            after_type = Some(end);
        }
    }
    count
}

/// The decoded names in a stretch of PDF text.
fn names(text: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    let mut tokens = NameTokens { text, at: 0 };
    std::iter::from_fn(move || tokens.next_name().map(|(_, _, name)| name))
}

fn is_white(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' | b'\0')
}

fn is_delimiter(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

struct NameTokens<'a> {
    text: &'a [u8],
    at: usize,
}

impl NameTokens<'_> {
    /// The next name: where its `/` is, where it ends, and its bytes with `#xx` decoded.
    fn next_name(&mut self) -> Option<(usize, usize, Vec<u8>)> {
        let slash = self.at + memchr::memchr(b'/', &self.text[self.at..])?;
        let mut i = slash + 1;
        let mut name = Vec::new();
        while let Some(&b) = self.text.get(i) {
            if is_white(b) || is_delimiter(b) {
                break;
            }
            let hex = |b: u8| (b as char).to_digit(16);
            match (b, self.text.get(i + 1), self.text.get(i + 2)) {
                (b'#', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                    name.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                    i += 3;
                }
                _ => {
                    name.push(b);
                    i += 1;
                }
            }
        }
        self.at = i;
        Some((slash, i, name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn pages_however_written() {
        let plain = b"%PDF-1.4\n1 0 obj <</Type /Pages /Count 3>> endobj\n2 0 obj <</Type /Page>> endobj\n3 0 obj <</Type/Page/Parent 1 0 R>> endobj\n4 0 obj <</Type\n/Page>> endobj\n5 0 obj <</Typ#65 /P#61ge>> endobj";
        assert_eq!(pages(plain), Some(4));
        // Page objects inside a compressed object stream.
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&b"<</Type/Page/Parent 1 0 R>>".repeat(40))
            .unwrap();
        let stream = z.finish().unwrap();
        let mut pdf =
            b"%PDF-1.7\n7 0 obj <</Type /ObjStm /N 40 /First 10 /Filter /FlateDecode>>\nstream\n"
                .to_vec();
        pdf.extend_from_slice(&stream);
        pdf.extend_from_slice(b"\nendstream endobj");
        assert_eq!(pages(&pdf), Some(40));
        // An object stream that does not inflate: no bound.
        let broken =
            b"%PDF-1.7\n7 0 obj <</Type /ObjStm /Filter /LZWDecode>>\nstream\nxxxx\nendstream";
        assert_eq!(pages(broken), None);
        assert_eq!(pages(b"%PDF-1.4 nothing"), None);
    }
}
