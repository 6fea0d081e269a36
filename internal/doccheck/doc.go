// Package doccheck holds no code: its tests keep the documentation honest.
//
//   - TestDocSnippets: every Go snippet of the Markdown documentation
//     (README.md, RELEASING.md, docs/*.md, bench/README.md) is marked with
//     the Go source it copies, `<!-- snippet: PATH -->` (a whole file) or
//     `<!-- snippet: PATH FUNC -->` (the body of function FUNC), on the line
//     before its opening fence, and equals that source word for word. The
//     sources are examples and programs that `make test` compiles (and the
//     examples with an Output comment, runs), so a snippet that would not
//     compile fails the build of its source, and a snippet edited apart
//     from its source fails this test.
//   - TestDocFigures: a figure quoted in the documentation (a number with a
//     unit: ×, ms, s, msg/s, MB/s, MB, KB, %) in a paragraph, list item or
//     table row that links to a benchmark results file (bench/RESULTS*.md;
//     a table takes the links of the paragraph above it) is found in one of
//     those files, and a date there is one of those files' run dates; in
//     such a table row every number is checked, its unit being in the
//     header or the caption. A
//     ratio (N×) anywhere else in README.md and docs/ fails: ratios come
//     from results files, cited.
//   - TestDocLinks: every relative link names a file that exists and, in a
//     Markdown file, a heading it has.
package doccheck
