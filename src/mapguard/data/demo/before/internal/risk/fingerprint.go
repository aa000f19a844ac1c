package risk

import (
	"sort"
	"unsafe"
)

// strhash is the runtime's string hash (AES-based where available): faster than hashing by
// hand, "and the map uses it anyway".
//
//go:linkname strhash runtime.strhash
func strhash(p unsafe.Pointer, h uintptr) uintptr

// fingerprint hashes the attributes in key order.
func fingerprint(attrs map[string]string) uint64 {
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := uintptr(len(keys))
	for _, k := range keys {
		v := attrs[k]
		h = strhash(unsafe.Pointer(&k), h)
		h = strhash(unsafe.Pointer(&v), h)
	}
	return uint64(h)
}
