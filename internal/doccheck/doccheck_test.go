package doccheck

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// repoRoot is the repository's root: two levels up from this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// docFiles are the Markdown files checked, relative to the root.
func docFiles(t *testing.T, root string) []string {
	t.Helper()
	files := []string{"README.md", "RELEASING.md", "bench/README.md"}
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		rel, _ := filepath.Rel(root, d)
		files = append(files, filepath.ToSlash(rel))
	}
	var exist []string
	for _, f := range files {
		if _, err := os.Stat(filepath.Join(root, f)); err == nil {
			exist = append(exist, f)
		}
	}
	return exist
}

// fence is a fenced code block of a Markdown file.
type fence struct {
	lang   string
	line   int    // of the opening fence, 1-based
	before string // the nearest non-empty line above the fence
	body   string
}

// fences returns the fenced code blocks of a Markdown text, and its lines
// with the fenced ones blanked (the prose).
func fences(text string) ([]fence, []string) {
	lines := strings.Split(text, "\n")
	prose := slices.Clone(lines)
	var out []fence
	for i := 0; i < len(lines); i++ {
		trimmed := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(trimmed, "```") {
			continue
		}
		indent := lines[i][:len(lines[i])-len(strings.TrimLeft(lines[i], " "))]
		f := fence{lang: strings.TrimSpace(strings.TrimPrefix(trimmed, "```")), line: i + 1}
		for j := i - 1; j >= 0; j-- {
			if strings.TrimSpace(lines[j]) != "" {
				f.before = strings.TrimSpace(lines[j])
				break
			}
		}
		var body []string
		prose[i] = ""
		j := i + 1
		for ; j < len(lines) && strings.TrimSpace(lines[j]) != "```"; j++ {
			body = append(body, strings.TrimPrefix(lines[j], indent))
			prose[j] = ""
		}
		if j < len(lines) {
			prose[j] = ""
		}
		f.body = strings.Join(body, "\n")
		out = append(out, f)
		i = j
	}
	return out, prose
}

var snippetMarker = regexp.MustCompile(`^<!--\s*snippet:\s*(\S+)(?:\s+(\S+))?\s*-->$`)

func TestDocSnippets(t *testing.T) {
	root := repoRoot(t)
	checked := 0
	for _, doc := range docFiles(t, root) {
		data, err := os.ReadFile(filepath.Join(root, doc))
		if err != nil {
			t.Fatal(err)
		}
		blocks, _ := fences(string(data))
		for _, b := range blocks {
			if b.lang != "go" {
				continue
			}
			where := fmt.Sprintf("%s:%d", doc, b.line)
			m := snippetMarker.FindStringSubmatch(b.before)
			if m == nil {
				t.Errorf("%s: a Go snippet without a `<!-- snippet: PATH [FUNC] -->` line above it naming the compiled source it copies", where)
				continue
			}
			want, err := snippetSource(filepath.Join(root, filepath.FromSlash(m[1])), m[2])
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			if got := strings.TrimRight(b.body, "\n "); got != want {
				t.Errorf("%s: the snippet differs from %s %s; the source (what make test compiles) is:\n%s\n--- the snippet is:\n%s\n--- first difference: %s",
					where, m[1], m[2], want, got, firstDiff(want, got))
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no Go snippet found: is the documentation where this test looks?")
	}
}

// snippetSource returns a whole Go file, or the body of its function fn
// (a method is named Type.Method) without its braces and with one tab of
// indentation less.
func snippetSource(path, fn string) (string, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	if !strings.HasSuffix(path, ".go") {
		return "", fmt.Errorf("%s is not a Go file", path)
	}
	if fn == "" {
		return strings.TrimRight(string(src), "\n "), nil
	}
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, path, src, parser.ParseComments)
	if err != nil {
		return "", err
	}
	for _, d := range file.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Body == nil || funcName(fd) != fn {
			continue
		}
		body := string(src[fset.Position(fd.Body.Lbrace).Offset+1 : fset.Position(fd.Body.Rbrace).Offset])
		lines := strings.Split(strings.Trim(body, "\n"), "\n")
		for i, l := range lines {
			lines[i] = strings.TrimPrefix(l, "\t")
		}
		return strings.TrimRight(strings.Join(lines, "\n"), "\n "), nil
	}
	return "", fmt.Errorf("%s has no function %s", path, fn)
}

func funcName(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return fd.Name.Name
	}
	typ := fd.Recv.List[0].Type
	if star, ok := typ.(*ast.StarExpr); ok {
		typ = star.X
	}
	if id, ok := typ.(*ast.Ident); ok {
		return id.Name + "." + fd.Name.Name
	}
	return fd.Name.Name
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d: source %q, snippet %q", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("source has %d lines, snippet %d", len(al), len(bl))
}

// A figure: a number (with thousands separators or decimals), maybe a
// range "a-b", and a unit.
var figureRE = regexp.MustCompile(`(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?:\s?[-–]\s?(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?))?\s?(×|msg/s|MB/s|ms|µs|s|MB|KB|%)(?:[^\p{L}/]|$)`)

// resultsLink matches a link to a results file.
var resultsLink = regexp.MustCompile(`\]\(([^)#\s]*RESULTS[^)#\s/]*\.md)(?:#[^)]*)?\)`)

// tableNumberRE is a number of a table row, not part of a word (p99,
// KIP-848's 848 is checked: it is in the results too), maybe a ratio.
var tableNumberRE = regexp.MustCompile(`(?:^|[^\p{L}\d.,])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(×)?`)

var dateRE = regexp.MustCompile(`\b(20\d\d-\d\d-\d\d)\b`)

// results is a results file: its text, normalized, and its run date.
type results struct {
	path, text, date string
}

var resultsDate = regexp.MustCompile(`(?m)^- date: (20\d\d-\d\d-\d\d)`)

func loadResults(t *testing.T, path string, cache map[string]*results) (*results, error) {
	if r, ok := cache[path]; ok {
		return r, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r := &results{path: path, text: string(data)}
	if m := resultsDate.FindStringSubmatch(r.text); m != nil {
		r.date = m[1]
	}
	cache[path] = r
	return r, nil
}

// has says whether the results hold the number (thousands separators
// dropped) as a figure of its own: not part of a longer number. A ratio
// must be there with its ×.
func (r *results) has(number, unit string) bool {
	n := strings.ReplaceAll(number, ",", "")
	pattern := `(^|[^\d.,])` + regexp.QuoteMeta(n) + `([^\d]|\.[^\d]|$)`
	if unit == "×" {
		pattern = `(^|[^\d.,])` + regexp.QuoteMeta(n) + `×`
	}
	text := thousands.ReplaceAllStringFunc(r.text, func(s string) string { return strings.ReplaceAll(s, ",", "") })
	return regexp.MustCompile(pattern).MatchString(text)
}

var thousands = regexp.MustCompile(`\d{1,3}(?:,\d{3})+`)

// block is a paragraph, a list item or a table row of a Markdown file.
type block struct {
	line  int
	text  string
	table bool
}

func blocks(prose []string) []block {
	var out []block
	var cur *block
	flush := func() {
		if cur != nil {
			out = append(out, *cur)
			cur = nil
		}
	}
	for i, l := range prose {
		trimmed := strings.TrimSpace(l)
		switch {
		case trimmed == "":
			flush()
		case strings.HasPrefix(trimmed, "|"):
			flush()
			out = append(out, block{line: i + 1, text: trimmed, table: true})
		case strings.HasPrefix(trimmed, "- ") || strings.HasPrefix(trimmed, "* ") || strings.HasPrefix(trimmed, "#") || regexp.MustCompile(`^\d+\. `).MatchString(trimmed):
			flush()
			cur = &block{line: i + 1, text: trimmed}
		default:
			if cur == nil || cur.table {
				flush()
				cur = &block{line: i + 1, text: trimmed}
			} else {
				cur.text += " " + trimmed
			}
		}
	}
	flush()
	return out
}

func TestDocFigures(t *testing.T) {
	root := repoRoot(t)
	cache := map[string]*results{}
	figures := 0
	for _, doc := range docFiles(t, root) {
		if doc == "bench/README.md" || doc == "RELEASING.md" {
			continue // the benchmarks' own description: durations of runs, not results
		}
		data, err := os.ReadFile(filepath.Join(root, doc))
		if err != nil {
			t.Fatal(err)
		}
		_, prose := fences(string(data))
		var caption []*results // the links of the paragraph above a table
		for _, b := range blocks(prose) {
			// Inline code is named settings and output, not quoted figures.
			text := regexp.MustCompile("`[^`]*`").ReplaceAllString(b.text, "")
			var cited []*results
			for _, m := range resultsLink.FindAllStringSubmatch(b.text, -1) {
				path := filepath.Join(root, filepath.Dir(doc), filepath.FromSlash(m[1]))
				r, err := loadResults(t, path, cache)
				if err != nil {
					t.Errorf("%s:%d: a link to %s: %v", doc, b.line, m[1], err)
					continue
				}
				if r.date == "" {
					t.Errorf("%s:%d: %s has no `- date:` line: figures must come from a dated run", doc, b.line, m[1])
				}
				cited = append(cited, r)
			}
			if b.table && len(cited) == 0 {
				cited = caption
			}
			if !b.table {
				caption = cited
			}
			where := fmt.Sprintf("%s:%d", doc, b.line)
			if len(cited) == 0 {
				for _, m := range figureRE.FindAllStringSubmatch(text, -1) {
					if m[3] == "×" {
						t.Errorf("%s: the ratio %q cites no results file (link a bench/RESULTS*.md in its paragraph, row or table caption)", where, strings.TrimSpace(m[0]))
					}
				}
				continue
			}
			for _, m := range figureRE.FindAllStringSubmatch(text, -1) {
				for _, n := range []string{m[1], m[2]} {
					if n == "" {
						continue
					}
					figures++
					if !slices.ContainsFunc(cited, func(r *results) bool { return r.has(n, m[3]) }) {
						t.Errorf("%s: the figure %s%s (in %q) is in none of the results it cites (%s)", where, n, m[3], strings.TrimSpace(m[0]), names(root, cited))
					}
				}
			}
			for _, d := range dateRE.FindAllString(text, -1) {
				if !slices.ContainsFunc(cited, func(r *results) bool { return r.date == d }) {
					t.Errorf("%s: the date %s is the date of none of the results it cites (%s)", where, d, names(root, cited))
				}
			}
			if !b.table {
				continue
			}
			// A table's cells give their unit in the header or the caption:
			// every number of a row is checked (dates apart).
			for _, m := range tableNumberRE.FindAllStringSubmatch(dateRE.ReplaceAllString(text, ""), -1) {
				figures++
				if !slices.ContainsFunc(cited, func(r *results) bool { return r.has(m[1], m[2]) }) {
					t.Errorf("%s: the figure %s%s of the table row is in none of the results it cites (%s)", where, m[1], m[2], names(root, cited))
				}
			}
		}
	}
	if figures == 0 {
		t.Fatal("no figure citing a results file found: is the documentation where this test looks?")
	}
}

func names(root string, rs []*results) string {
	var b bytes.Buffer
	for i, r := range rs {
		if i > 0 {
			b.WriteString(", ")
		}
		rel, _ := filepath.Rel(root, r.path)
		fmt.Fprintf(&b, "%s of %s", rel, r.date)
	}
	return b.String()
}

var (
	mdLink     = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	mdHeading  = regexp.MustCompile(`(?m)^#+ (.*)$`)
	anchorDrop = regexp.MustCompile(`[^\p{L}\p{N}\- _]`)
)

// anchor is GitHub's anchor of a heading: lower case, punctuation dropped,
// spaces as hyphens.
func anchor(heading string) string {
	return strings.ReplaceAll(anchorDrop.ReplaceAllString(strings.ToLower(strings.TrimSpace(heading)), ""), " ", "-")
}

// TestDocLinks: every relative link of the documentation names a file that
// exists and, for a Markdown file, a heading it has: what moved stays
// reachable.
func TestDocLinks(t *testing.T) {
	root := repoRoot(t)
	for _, doc := range append(docFiles(t, root), "CHANGELOG.md") {
		data, err := os.ReadFile(filepath.Join(root, doc))
		if err != nil {
			t.Fatal(err)
		}
		_, prose := fences(string(data))
		for i, line := range prose {
			for _, m := range mdLink.FindAllStringSubmatch(line, -1) {
				link := m[1]
				if strings.Contains(link, "://") || strings.HasPrefix(link, "mailto:") {
					continue
				}
				path, frag, _ := strings.Cut(link, "#")
				target := filepath.Join(root, filepath.Dir(doc), filepath.FromSlash(path))
				if path == "" {
					target = filepath.Join(root, doc)
				}
				if _, err := os.Stat(target); err != nil {
					t.Errorf("%s:%d: the link %s: %v", doc, i+1, link, err)
					continue
				}
				if frag == "" || !strings.HasSuffix(target, ".md") {
					continue
				}
				text, err := os.ReadFile(target)
				if err != nil {
					t.Fatal(err)
				}
				found := false
				for _, h := range mdHeading.FindAllStringSubmatch(string(text), -1) {
					if anchor(h[1]) == frag {
						found = true
					}
				}
				if !found {
					t.Errorf("%s:%d: the link %s: no such heading in %s", doc, i+1, link, path)
				}
			}
		}
	}
}
