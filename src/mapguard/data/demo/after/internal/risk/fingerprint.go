package risk

import (
	"hash/maphash"
	"sort"
)

var fingerprintSeed = maphash.MakeSeed()

// fingerprint hashes the attributes in key order.
func fingerprint(attrs map[string]string) uint64 {
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var h maphash.Hash
	h.SetSeed(fingerprintSeed)
	for _, k := range keys {
		h.WriteString(k)
		h.WriteByte(0)
		h.WriteString(attrs[k])
		h.WriteByte(0)
	}
	return h.Sum64()
}
