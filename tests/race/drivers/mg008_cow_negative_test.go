package cowroutes

import "testing"

func TestCleanCopyOnWrite(t *testing.T) {
	r := New(map[string]string{"a.example": "10.0.0.1"})
	raceHammer(4, func(g int) {
		for i := 0; i < 5; i++ {
			if g%2 == 0 {
				r.Backend("a.example")
				r.Hits()
				continue
			}
			r.Add("b.example", "10.0.0.2")
			r.Hit("b.example")
			r.Remove("b.example")
			r.ResetHits([]string{"a.example"})
			r.Replace([][2]string{{"a.example", "10.0.0.1"}, {"c.example", ""}})
		}
	})
}
