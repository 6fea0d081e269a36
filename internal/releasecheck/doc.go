// Package releasecheck holds no code: its test checks that a release of the
// repository's modules works for a user, the way `go get` would fetch them
// (see RELEASING.md).
package releasecheck
