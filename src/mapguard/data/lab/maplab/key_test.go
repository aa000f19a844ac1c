package maplab

import (
	"strings"
	"testing"
)

// BenchmarkKey: a map indexed with a key built on the spot (concatenation, fmt.Sprintf,
// strconv), with a struct of the parts, or with a []byte converted in the index expression.
// Short keys are under 32 bytes, long ones over.
func BenchmarkKey(b *testing.B) {
	shortA, shortB := "tenant", "kind"
	longA, longB := strings.Repeat("tenant", 4), strings.Repeat("kind", 4)
	strs := map[string]int{shortA + "/" + shortB: 1, longA + "/" + longB: 2, "id-12345": 3}
	pairs := map[Pair]int{{shortA, shortB}: 1, {longA, longB}: 2}
	longBytes := []byte(longA + "/" + longB)
	cases := []struct {
		name string
		op   func()
	}{
		{"key=concat/op=lookup/len=short", func() { countSink += LookupConcat(strs, shortA, shortB) }},
		{"key=concat/op=lookup/len=long", func() { countSink += LookupConcat(strs, longA, longB) }},
		{"key=concat/op=increment/len=short", func() { IncrementConcat(strs, shortA, shortB) }},
		{"key=sprint/op=lookup/len=short", func() { countSink += LookupSprint(strs, shortA, shortB) }},
		{"key=itoa/op=lookup/len=short", func() { countSink += LookupItoa(strs, "id-", 12345) }},
		{"key=struct/op=lookup/len=short", func() { countSink += LookupStruct(pairs, shortA, shortB) }},
		{"key=struct/op=lookup/len=long", func() { countSink += LookupStruct(pairs, longA, longB) }},
		{"key=struct/op=increment/len=short", func() { IncrementStruct(pairs, shortA, shortB) }},
		{"key=bytes/op=lookup/len=long", func() { countSink += LookupBytes(strs, longBytes) }},
	}
	for _, c := range inRoundOrder(cases) {
		b.Run(c.name, func(b *testing.B) {
			p := startProbe(b)
			for i := 0; i < b.N; i++ {
				c.op()
			}
			p.stop()
		})
	}
}
