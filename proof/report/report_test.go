package report

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/plot/plotter"
)

// TestPlots writes each kind of plot and checks that the PNG decodes and
// the SVG carries the title and the axis labels, so a plot is readable
// without the text around it.
func TestPlots(t *testing.T) {
	dir := t.TempDir()
	series := []Series{
		{Name: "waxseal", XY: plotter.XYs{{X: 1, Y: 100}, {X: 2, Y: 190}, {X: 4, Y: 370}}},
		{Name: "shared", XY: plotter.XYs{{X: 1, Y: 90}, {X: 2, Y: 150}, {X: 4, Y: 200}}},
	}
	if err := Lines(dir, "lines", "Throughput", "instances", "requests per second", series, false); err != nil {
		t.Fatal(err)
	}
	if err := Bars(dir, "bars", "Bytes per request", "bytes per request", []string{"a", "b", "c"},
		[]Series{{Name: "request", XY: plotter.XYs{{X: 0, Y: 600}, {X: 1, Y: 160}, {X: 2, Y: 160}}}}); err != nil {
		t.Fatal(err)
	}
	if err := Points(dir, "points", "Cost per check", "µs per check (log scale)", []string{"cold", "warm"}, []float64{100, 0.07}, "best"); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]string{
		"lines":  {"Throughput", "instances", "requests per second", "waxseal", "shared"},
		"bars":   {"Bytes per request", "bytes per request", "request"},
		"points": {"Cost per check", "µs per check (log scale)", "best"},
	} {
		data, err := os.ReadFile(filepath.Join(dir, name+".png"))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s.png: %v", name, err)
		}
		if b := img.Bounds(); b.Dx() < 500 || b.Dy() < 300 {
			t.Errorf("%s.png is %v, too small to read", name, b)
		}
		svg, err := os.ReadFile(filepath.Join(dir, name+".svg"))
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range want {
			if !strings.Contains(string(svg), w) {
				t.Errorf("%s.svg lacks %q", name, w)
			}
		}
	}
}

func TestTableMarkdownAndCSV(t *testing.T) {
	tab := &Table{Name: "t", Header: []string{"mode", "n"}}
	tab.Add("waxseal", 3)
	tab.Add("a, \"quoted\"", 1.5)
	if got, want := tab.Markdown(), "| mode | n |\n|---|---|\n| waxseal | 3 |\n| a, \"quoted\" | 1.5 |\n"; got != want {
		t.Errorf("Markdown:\n%s\nwant\n%s", got, want)
	}
	dir := t.TempDir()
	if err := tab.WriteCSV(dir); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "t.csv"))
	if got, want := string(data), "mode,n\nwaxseal,3\n\"a, \"\"quoted\"\"\",1.5\n"; got != want {
		t.Errorf("CSV %q, want %q", got, want)
	}
}
