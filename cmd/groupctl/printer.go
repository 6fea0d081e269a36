package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode/utf8"
)

// printer is the one way commands print results: aligned tables for people,
// indented JSON (stable field order, one document) for scripts.
//
// Tables escape what they print of names and values (escape): a group id,
// a member's client id or host may hold control characters that would
// retitle a terminal, clear it or break the columns. JSON prints every
// string exact (encoding/json escapes control characters itself).
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
	// tabwriter writes every cell and every padding on its own: buffered,
	// or a table of 10,000 partitions is some 100,000 writes to stdout
	// (hundreds of milliseconds to a pipe on a busy machine).
	bw := bufio.NewWriterSize(p.w, 64<<10)
	t := &tableWriter{tw: tabwriter.NewWriter(bw, 0, 4, 2, ' ', 0), w: bw}
	table(t)
	if err := t.tw.Flush(); err != nil {
		return err
	}
	return bw.Flush()
}

// tableWriter writes aligned rows; sections are separated by a blank line.
// Every cell and every string argument of a line is escaped (escape).
type tableWriter struct {
	tw *tabwriter.Writer
	w  io.Writer
}

// row writes one row of cells.
func (t *tableWriter) row(cells ...any) {
	s := make([]string, len(cells))
	for i, c := range cells {
		s[i] = escape(fmt.Sprint(c))
	}
	fmt.Fprintln(t.tw, strings.Join(s, "\t"))
}

// line writes a line outside the columns (after flushing them); its string
// arguments are escaped, the format is the command's own.
func (t *tableWriter) line(format string, args ...any) {
	t.tw.Flush()
	for i, a := range args {
		if s, ok := a.(string); ok {
			args[i] = escape(s)
		}
	}
	fmt.Fprintf(t.w, format+"\n", args...)
}

// escape is s as a table prints it: unchanged when every rune of it is
// printable (strconv.IsPrint: letters, marks, numbers, punctuation,
// symbols and the ASCII space) and it is valid UTF-8, as nearly every
// name is; otherwise Go-quoted (strconv.Quote: "evil\x1b]0;x\a"), so that
// no control character (ESC, BEL, tab, newline) reaches the terminal and
// the quotes show the name is escaped.
func escape(s string) string {
	if !utf8.ValidString(s) {
		return strconv.Quote(s)
	}
	for _, r := range s {
		if !strconv.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}
