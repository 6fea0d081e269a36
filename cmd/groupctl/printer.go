package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// printer is the one way commands print results: aligned tables for people,
// indented JSON (stable field order, one document) for scripts.
type printer struct {
	w    io.Writer
	json bool
}

func newPrinter(e *env, c *common) printer { return printer{w: e.stdout, json: c.output == "json"} }

// print prints v as JSON, or, for tables, calls table.
func (p printer) print(v any, table func(t *tableWriter)) error {
	if p.json {
		enc := json.NewEncoder(p.w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	t := &tableWriter{tw: tabwriter.NewWriter(p.w, 0, 4, 2, ' ', 0), w: p.w}
	table(t)
	return t.tw.Flush()
}

// tableWriter writes aligned rows; sections are separated by a blank line.
type tableWriter struct {
	tw *tabwriter.Writer
	w  io.Writer
}

// row writes one row of cells.
func (t *tableWriter) row(cells ...any) {
	s := make([]string, len(cells))
	for i, c := range cells {
		s[i] = fmt.Sprint(c)
	}
	fmt.Fprintln(t.tw, strings.Join(s, "\t"))
}

// line writes a line outside the columns (after flushing them).
func (t *tableWriter) line(format string, args ...any) {
	t.tw.Flush()
	fmt.Fprintf(t.w, format+"\n", args...)
}
