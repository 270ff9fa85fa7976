package eventlog

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
)

// HashSize is the size of a chain hash (SHA-256).
const HashSize = sha256.Size

// chainDomain versions the hash input layout; a new layout gets a new domain.
const chainDomain = "bizevents/chain/v1\x00"

// ChainHash returns the hash that seals e after the event whose hash is prev
// (nil for the first event). It covers everything an audit relies on: the
// previous hash, the position, the ID, the stream and version, the type, the
// data byte for byte, and every metadata field. Variable-length fields are
// length-prefixed, so no two different events encode alike.
func ChainHash(prev []byte, e *Event) []byte {
	h := sha256.New()
	var zero [HashSize]byte
	h.Write([]byte(chainDomain))
	if prev == nil {
		prev = zero[:]
	}
	h.Write(prev)
	var num [8]byte
	putInt := func(v int64) {
		binary.BigEndian.PutUint64(num[:], uint64(v))
		h.Write(num[:])
	}
	putBytes := func(b []byte) {
		putInt(int64(len(b)))
		h.Write(b)
	}
	putInt(e.Position)
	h.Write(e.ID[:])
	putString(h, putInt, e.StreamID)
	putInt(e.StreamVersion)
	putString(h, putInt, e.Type)
	putBytes(e.Data)
	m := &e.Metadata
	for _, s := range []string{m.UserID, m.InitiatingUserID, m.CorrelationID, m.RequestID, m.CausationID, m.Solution} {
		putString(h, putInt, s)
	}
	putInt(int64(m.Depth))
	putInt(m.Time.UnixMicro())
	return h.Sum(nil)
}

func putString(h hash.Hash, putInt func(int64), s string) {
	putInt(int64(len(s)))
	h.Write([]byte(s))
}
