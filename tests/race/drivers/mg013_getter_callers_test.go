package instancetags

import "testing"

func concurrently(call func(t *Tags)) {
	for round := 0; round < 8; round++ {
		tags := New(map[string]string{"token": "x", "zone": "a"})
		raceHammer(2, func(g int) { call(tags) })
	}
}

func TestRaceLabels(t *testing.T) { concurrently(func(tags *Tags) { Labels(tags, "h1") }) }

func TestRaceScrub(t *testing.T) { concurrently(func(tags *Tags) { Scrub(tags) }) }

func TestRaceStamp(t *testing.T) { concurrently(func(tags *Tags) { Stamp(tags, "now") }) }

func TestCleanCallers(t *testing.T) {
	tags := New(map[string]string{"token": "x", "zone": "a"})
	raceHammer(4, func(g int) {
		for i := 0; i < 10; i++ {
			LabelsCopied(tags, "h1")
			LabelsFresh(tags, "h1")
			tags.SetTag("k", "v")
			tags.Sync(map[string]string{"zone": "b"})
		}
	})
}
