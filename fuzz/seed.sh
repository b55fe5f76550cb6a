#!/usr/bin/env bash
# Seeds fuzz/corpus/message with the RFC 4475 torture messages.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus/message corpus/uri corpus/name_addr corpus/multipart
cp ../crates/sip-core/tests/rfc4475/*.dat corpus/message/
