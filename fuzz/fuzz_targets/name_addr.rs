//! Header values with structure: name-addr / addr-spec (From, To, Contact,
//! Route), Via, CSeq, parameter lists and comma lists.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sip_core::{split_commas, CSeq, NameAddr, Params, Via};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    for item in split_commas(s) {
        if let Ok(n) = NameAddr::parse(item, "Contact") {
            let _ = (n.display_name(), n.tag(), n.uri(), n.params.is_valid());
        }
        if let Ok(v) = Via::parse(item) {
            let _ = (v.branch(), v.received(), v.rport(), v.is_rfc3261());
        }
    }
    let _ = CSeq::parse(s);
    let p = Params(s);
    let _ = (p.is_valid(), p.iter().count(), p.value("tag"));
});
