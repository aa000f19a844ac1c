package bininfo

import (
	"fmt"
	"testing"
)

func testImage(n int) *Image {
	image := &Image{Symbols: map[uint64]string{}, Units: map[string]string{}}
	for i := 0; i < n; i++ {
		image.Symbols[uint64(i)] = fmt.Sprint("sym", i)
		image.Units[fmt.Sprint("unit", i)] = fmt.Sprint("pkg", i%7)
		image.Lines = append(image.Lines, fmt.Sprint("line", i%11))
	}
	return image
}

// The loaders are joined by loadBinaryInfo and Reload, and leave each other's maps alone.
func TestCleanJoinedLoaders(t *testing.T) {
	bi := &BinaryInfo{}
	for round := 0; round < 4; round++ {
		bi.AddImage(testImage(200))
		if got := bi.SymName(3); got != "sym3" {
			t.Fatalf("SymName(3) = %q", got)
		}
		if len(bi.Packages("pkg1")) == 0 {
			t.Fatal("no units for pkg1")
		}
		bi.Reload(testImage(100))
		if bi.Lines("line2") == 0 {
			t.Fatal("no count for line2")
		}
	}
}

// Two different loaders started beside each other fill the same map.
func TestRaceLoadersBesideEachOther(t *testing.T) {
	names := make([]string, 2000)
	aliases := make([]string, 2000)
	for i := range names {
		names[i] = fmt.Sprint("name", i)
		aliases[i] = fmt.Sprint("alias", i)
	}
	x := NewIndex()
	x.Load(names, aliases)
	_ = x.Position("name1")
}

// One loader per image, all running before the single wait after the loop.
func TestRaceLoadAllImages(t *testing.T) {
	images := make([]string, 64)
	for i := range images {
		images[i] = fmt.Sprint("image", i%5)
	}
	c := NewCatalog()
	c.LoadAll(images)
	_ = c.Count("image1")
}

// WarmAsync does not wait: the caller's reads run beside the goroutine's writes.
func TestRaceWarmAsync(t *testing.T) {
	keys := make([]string, 500)
	for i := range keys {
		keys[i] = fmt.Sprint("key", i)
	}
	c := NewCache()
	c.WarmAsync(keys)
	for i := 0; i < 2000; i++ {
		_ = c.Get(keys[i%len(keys)])
	}
	c.Warm(keys)
}

// Fill's two goroutines write the same map while each other run.
func TestRaceFillSiblings(t *testing.T) {
	rows := make([]string, 2000)
	for i := range rows {
		rows[i] = fmt.Sprint("row", i%50)
	}
	table := NewTable()
	table.Fill(rows, rows)
	_ = table.Row("row1")
}
