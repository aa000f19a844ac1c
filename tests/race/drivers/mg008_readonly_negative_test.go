package catalog

import "testing"

func TestCleanReadOnlyAfterLoad(t *testing.T) {
	ps := []Product{{SKU: "A1", Price: 5, Tags: []string{"new"}}, {SKU: "GIFTCARD", Price: 20}}
	Load(ps)
	raceHammer(4, func(g int) {
		for i := 0; i < 5; i++ {
			if g == 0 {
				Load(ps)
				SetStock("A1", i)
				continue
			}
			Find("a1")
			ByTag()
			Cheaper(10)
			Merge(map[string]Product{"B2": {SKU: "B2"}})
			Stock("A1", []string{"north", "south"})
		}
	})
}
