// Package report writes the proof's results: tables as Markdown and CSV,
// and plots as PNG and SVG with gonum/plot.
package report

import (
	"encoding/csv"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Table is a titled table: written to Markdown, and as CSV beside it.
type Table struct {
	Name   string // file name of the CSV, without extension
	Header []string
	Rows   [][]string
}

// Add appends a row; values are formatted with fmt's %v.
func (t *Table) Add(vals ...any) {
	row := make([]string, len(vals))
	for i, v := range vals {
		row[i] = fmt.Sprint(v)
	}
	t.Rows = append(t.Rows, row)
}

// Markdown renders the table.
func (t *Table) Markdown() string {
	var b strings.Builder
	b.WriteString("| " + strings.Join(t.Header, " | ") + " |\n|")
	for range t.Header {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range t.Rows {
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	return b.String()
}

// WriteCSV writes dir/Name.csv.
func (t *Table) WriteCSV(dir string) error {
	return WriteCSV(filepath.Join(dir, t.Name+".csv"), t.Header, t.Rows)
}

// WriteCSV writes rows under header to path.
func WriteCSV(path string, header []string, rows [][]string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	w := csv.NewWriter(f)
	w.Write(header)
	w.WriteAll(rows)
	if err := w.Error(); err != nil {
		f.Close()
		return fmt.Errorf("report: %w", err)
	}
	return f.Close()
}

// Colors of the series, in the order of cluster.Modes then extra series;
// distinguishable for common colour blindness (Okabe–Ito).
var Colors = []color.Color{
	color.RGBA{0, 114, 178, 255},   // blue
	color.RGBA{213, 94, 0, 255},    // vermillion
	color.RGBA{0, 158, 115, 255},   // green
	color.RGBA{204, 121, 167, 255}, // purple
	color.RGBA{230, 159, 0, 255},   // orange
	color.RGBA{86, 180, 233, 255},  // sky blue
}

// Series is one line of a line plot.
type Series struct {
	Name string
	XY   plotter.XYs
}

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	return p
}

// Lines plots series as lines with points. logY puts the y axis on a
// logarithmic scale.
func Lines(dir, name, title, x, y string, series []Series, logY bool) error {
	p := newPlot(title, x, y)
	if logY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	for i, s := range series {
		xy := s.XY
		if logY {
			xy = clampPositive(xy)
		}
		l, pts, err := plotter.NewLinePoints(xy)
		if err != nil {
			return fmt.Errorf("report: %s: %w", name, err)
		}
		c := Colors[i%len(Colors)]
		l.Color, pts.Color = c, c
		l.Width = vg.Points(1.5)
		l.Dashes = dashes(i)
		pts.Shape = shapes[i%len(shapes)]
		p.Add(l, pts)
		p.Legend.Add(s.Name, l, pts)
	}
	if !logY {
		headroom(p, len(series))
	}
	return save(p, dir, name)
}

// headroom raises the top of a linear y axis so that the legend, in the
// top right corner, sits above the data rather than on it.
func headroom(p *plot.Plot, entries int) {
	p.Y.Min = math.Min(p.Y.Min, 0)
	top := p.Y.Max
	if top <= 0 {
		top = 1
	}
	p.Y.Max = top * (1.15 + 0.08*float64(entries))
}

var shapes = []draw.GlyphDrawer{draw.CircleGlyph{}, draw.TriangleGlyph{}, draw.SquareGlyph{}, draw.PlusGlyph{}, draw.CrossGlyph{}, draw.RingGlyph{}}

func dashes(i int) []vg.Length {
	switch i % 3 {
	case 1:
		return []vg.Length{vg.Points(6), vg.Points(3)}
	case 2:
		return []vg.Length{vg.Points(2), vg.Points(2)}
	}
	return nil
}

func clampPositive(xy plotter.XYs) plotter.XYs {
	out := make(plotter.XYs, len(xy))
	for i, v := range xy {
		out[i] = v
		if v.Y <= 0 {
			out[i].Y = 1e-3
		}
	}
	return out
}

// Bars plots groups of bars: one bar per group member for each category.
func Bars(dir, name, title, y string, categories []string, groups []Series) error {
	p := newPlot(title, "", y)
	w := vg.Points(60 / float64(max(1, len(groups))))
	for i, g := range groups {
		vals := make(plotter.Values, len(g.XY))
		for j, v := range g.XY {
			vals[j] = v.Y
		}
		b, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return fmt.Errorf("report: %s: %w", name, err)
		}
		b.Color = Colors[i%len(Colors)]
		b.LineStyle.Width = 0
		b.Offset = w * vg.Length(float64(i)-float64(len(groups)-1)/2)
		p.Add(b)
		p.Legend.Add(g.Name, b)
	}
	p.NominalX(categories...)
	p.X.Min, p.X.Max = -0.6, float64(len(categories))-0.4
	headroom(p, len(groups))
	return save(p, dir, name)
}

// Points plots one value per category as a labelled point on a
// logarithmic y axis, for values that span orders of magnitude.
func Points(dir, name, title, y string, categories []string, values []float64, legend string) error {
	p := newPlot(title, "", y)
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	xy := make(plotter.XYs, len(values))
	labels := make([]string, len(values))
	for i, v := range values {
		xy[i] = plotter.XY{X: float64(i), Y: math.Max(v, 1e-3)}
		labels[i] = fmt.Sprintf("%.3g", v)
	}
	s, err := plotter.NewScatter(xy)
	if err != nil {
		return fmt.Errorf("report: %s: %w", name, err)
	}
	s.Color = Colors[0]
	s.Shape = draw.CircleGlyph{}
	s.Radius = vg.Points(5)
	l, err := plotter.NewLabels(plotter.XYLabels{XYs: xy, Labels: labels})
	if err != nil {
		return fmt.Errorf("report: %s: %w", name, err)
	}
	l.Offset = vg.Point{X: vg.Points(8), Y: vg.Points(-3)}
	p.Add(s, l)
	p.Legend.Add(legend, s)
	p.NominalX(categories...)
	p.X.Min, p.X.Max = -0.5, float64(len(values))-0.3
	return save(p, dir, name)
}

func save(p *plot.Plot, dir, name string) error {
	for _, ext := range []string{".png", ".svg"} {
		if err := p.Save(18*vg.Centimeter, 11*vg.Centimeter, filepath.Join(dir, name+ext)); err != nil {
			return fmt.Errorf("report: %s: %w", name, err)
		}
	}
	return nil
}
