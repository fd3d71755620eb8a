//! The reader of one streamed answer, by leg: a pass-through stream is relayed as it
//! comes and scanned for usage; a translated one is read in the upstream's dialect and
//! written in the client's, event by event.

use super::leg::Leg;
use super::ClientRequest;
use crate::core::endpoint::{Dialect, Endpoint};
use crate::core::stream::StreamTranslator;
use crate::dialect::chat::scan::ChunkScan;
use crate::dialect::messages::upstream::MessageEventReader;
use crate::dialect::responses::upstream::ResponseEventReader;
use crate::dialect::translate::{PassThrough, Translation};

/// The translator of a stream on `leg`; lines longer than `max_line` end it.
pub fn translator(
    leg: Leg,
    endpoint: Endpoint,
    req: &ClientRequest,
    max_line: usize,
) -> Box<dyn StreamTranslator> {
    if !leg.passes_through() {
        let now = crate::time::now_ms() / 1000;
        return Box::new(Translation::new(
            crate::dialect::event_reader(leg.upstream),
            crate::dialect::event_writer(req.client_side(endpoint), now),
            max_line,
        ));
    }
    match leg.upstream {
        // The gateway asked for the usage chunk if the client did not: it goes again.
        Dialect::Chat => Box::new(ChunkScan::new(!req.wants_usage_chunk, max_line)),
        Dialect::Messages => Box::new(PassThrough::new(MessageEventReader::default(), max_line)),
        Dialect::Responses => Box::new(PassThrough::new(ResponseEventReader::default(), max_line)),
    }
}
