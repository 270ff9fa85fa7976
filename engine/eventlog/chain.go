package eventlog

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
)

// HashSize is the size of a chain hash (SHA-256).
const HashSize = sha256.Size

// Domains version the hash input layouts; a new layout gets a new domain.
const (
	contentDomain = "bizevents/content/v1\x00"
	linkDomain    = "bizevents/link/v1\x00"
)

// ChainHash returns the hash that seals e (with its Position and
// StreamVersion set) after the event whose hash is prev (nil for the first
// event): LinkHash(prev, e.Position, e.StreamVersion, ContentHash(e)).
func ChainHash(prev []byte, e *Event) []byte {
	return LinkHash(prev, e.Position, e.StreamVersion, ContentHash(e))
}

// ContentHash digests everything about an event that is known before it is
// stored: ID, stream, type, data byte for byte, and every metadata field.
// Variable-length fields are length-prefixed, so no two different events
// encode alike. A backend may compute it at append time and keep it, so
// that sealing does not read event bodies back; verification always
// recomputes it from the stored event.
func ContentHash(e *Event) []byte {
	h := sha256.New()
	h.Write([]byte(contentDomain))
	h.Write(e.ID[:])
	putString(h, e.StreamID)
	putString(h, e.Type)
	putInt(h, int64(len(e.Data)))
	h.Write(e.Data)
	m := &e.Metadata
	for _, s := range []string{m.UserID, m.InitiatingUserID, m.CorrelationID, m.RequestID, m.CausationID, m.Solution} {
		putString(h, s)
	}
	putInt(h, int64(m.Depth))
	putInt(h, m.Time.UnixMicro())
	return h.Sum(nil)
}

// LinkHash chains an event's content hash to its predecessor's hash (nil or
// all zeros for the first event) at its final position and stream version.
func LinkHash(prev []byte, position, streamVersion int64, content []byte) []byte {
	h := sha256.New()
	h.Write([]byte(linkDomain))
	var zero [HashSize]byte
	if prev == nil {
		prev = zero[:]
	}
	h.Write(prev)
	putInt(h, position)
	putInt(h, streamVersion)
	h.Write(content)
	return h.Sum(nil)
}

func putInt(h hash.Hash, v int64) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(v))
	h.Write(b[:])
}

func putString(h hash.Hash, s string) {
	putInt(h, int64(len(s)))
	h.Write([]byte(s))
}
