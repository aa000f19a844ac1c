package catalog

import (
	"strconv"
	"testing"
	"time"
)

var seed = []Item{
	{SKU: "mug", Name: "Mug", Price: 900},
	{SKU: "tee", Name: "T-shirt", Price: 1900},
}

var tree = Group{
	Name:  "shop",
	Items: []Item{{SKU: "cap", Name: "Cap", Price: 1500}},
	Groups: []Group{
		{Name: "kitchen", Items: []Item{{SKU: "pan", Name: "Pan", Price: 3900}}},
	},
}

// Each value is built (NewCatalog, FromSnapshot, Reset, Seed) before it is shared; then the
// goroutines use only the locked methods and the BeginUpdate/CommitUpdate pairs.
func TestCleanCatalog(t *testing.T) {
	for round := 0; round < 4; round++ {
		var reused Catalog
		reused.Reset(seed)
		for _, c := range []*Catalog{NewCatalog(seed), FromSnapshot(tree), &reused} {
			raceHammer(4, func(g int) {
				sku := "sku-" + strconv.Itoa(g)
				for i := 0; i < 5; i++ {
					c.Add(Item{SKU: sku, Name: "thing", Price: i})
					c.Rename(sku, "renamed")
					c.Reprice("mug", 1000+i)
					c.Replay([]Item{{SKU: "tee", Name: "T-shirt", Price: 2000 + i}})
					c.Lookup("mug")
					c.Ensure("unknown-" + strconv.Itoa(g))
					c.Hits("mug")
					if g == 0 {
						c.ResetHits()
					}
					c.BeginUpdate()
					c.DropLocked("cap")
					c.Prune(time.Now().Add(-time.Hour))
					c.CommitUpdate([]Item{{SKU: "pan", Name: "Pan", Price: 4100, Modified: time.Now()}})
					c.Remove(sku)
				}
			})
		}
	}
}

func TestCleanBuiltin(t *testing.T) {
	raceHammer(4, func(g int) {
		for i := 0; i < 5; i++ {
			Builtin.Lookup("gift-card")
			Builtin.Reprice("gift-card", 2500+g)
		}
	})
}

func TestCleanAliases(t *testing.T) {
	a := NewAliases()
	a.Seed([][2]string{{"mug-old", "mug"}, {"tee-v1", "tee"}})
	raceHammer(4, func(g int) {
		for i := 0; i < 5; i++ {
			a.Set("cap-v"+strconv.Itoa(g), "cap")
			a.Resolve("mug-old")
			a.Set("cap-v"+strconv.Itoa(g), "cap-v"+strconv.Itoa(g))
		}
	})
}
