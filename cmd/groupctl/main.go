// Command groupctl shows and repairs the consumer groups that Kafka's
// ZooKeeper layout describes (those of this module's library, and of
// Kafka's own ZooKeeper-era consumers), consumes and produces for
// debugging, and runs the project's demo.
//
//	groupctl demo                      # the library at work, in one command
//	groupctl list [--type T,...] [--state S,...]  # the groups, their types and states
//	groupctl describe GROUP            # members, owners, offsets, lag, state (or --all-groups)
//	groupctl lag GROUP [--watch]       # lag and rates (or --all-groups)
//	groupctl reset-offsets GROUP --topic T[:P,...] --to-earliest|--to-latest|--to-current|--to-offset N|--to-datetime T|--by-duration D|--shift-by N|--from-file F [--type share] [--execute] [--export]
//	groupctl delete GROUP
//	groupctl delete-offsets GROUP --topic T
//	groupctl migrate GROUP [--to kafka|zookeeper] [--bootstrap-server B] [--force] [--execute]
//	groupctl consume --topic T (--group G | --from-offset N | --from-time T) [--format F]
//	groupctl produce --topic T [--count N] < lines
//	groupctl serve [--listen 127.0.0.1:8080]  # web view, /api/, /metrics
//	groupctl --version                 # the module version and VCS revision it was built from
//
// Common flags: --zookeeper (or $CONSUMERGROUP_ZOOKEEPER), --chroot,
// --zookeeper-auth, --brokers, Kafka's --tls* and --sasl-* flags,
// --output table|json, --timeout. --bootstrap-server instead of --zookeeper
// selects the groups of Kafka's own coordinator (list, describe, lag,
// reset-offsets, delete, delete-offsets, consume, produce, serve; kafka.go),
// share groups (KIP-932) among them (share.go).
// Exit status: 0 done, 1 failed or refused, 2 bad usage or ZooKeeper (Kafka
// with --bootstrap-server) unreachable.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// Exit statuses.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2 // bad flags or arguments, or ZooKeeper (--bootstrap-server: Kafka) unreachable
)

// command is one subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, env *env, args []string) error
}

var commands = map[string]command{
	"demo":           {"run the demo: Kafka, ZooKeeper and a group of members in this process", runDemo},
	"list":           {"list the groups", runList},
	"describe":       {"describe a group: members, owners, offsets, lag, state", runDescribe},
	"lag":            {"show a group's lag per partition and in total", runLag},
	"reset-offsets":  {"reset a group's committed offsets (dry run unless --execute)", runReset},
	"delete":         {"delete a group that has no members", runDelete},
	"delete-offsets": {"delete a group's offsets of a topic it no longer consumes", runDeleteOffsets},
	"migrate":        {"move a group from ZooKeeper to Kafka's coordinator, or back (dry run unless --execute)", runMigrate},
	"consume":        {"join a group and print its messages", runConsume},
	"produce":        {"produce messages", runProduce},
	"serve":          {"serve a web view, a JSON API and Prometheus metrics of every group", runServe},
}

// env is what a command may use of the process: its streams.
type env struct {
	stdout, stderr io.Writer
	stdin          io.Reader
	getenv         func(string) string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, &env{stdout: os.Stdout, stderr: os.Stderr, stdin: os.Stdin, getenv: os.Getenv}, os.Args[1:])
	stop()
	os.Exit(code)
}

// run runs the command line args and returns the exit status.
func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(e.stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	if args[0] == "--version" || args[0] == "-version" || args[0] == "version" {
		printVersion(e.stdout)
		return exitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "groupctl: unknown command %q\n\n", args[0])
		usage(e.stderr)
		return exitUsage
	}
	err := cmd.run(ctx, e, args[1:])
	if err == nil {
		return exitOK
	}
	var ue usageError
	var help helpRequested
	switch {
	case errors.As(err, &help):
		fmt.Fprint(e.stdout, help.usage)
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(e.stderr, "groupctl %s: %v\n", args[0], err)
		if ue.usage != "" {
			fmt.Fprintln(e.stderr, ue.usage)
		}
		return exitUsage
	case errors.Is(err, errUnreachable):
		fmt.Fprintf(e.stderr, "groupctl %s: %v\n", args[0], err)
		return exitUsage
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return exitOK // Ctrl-C
	}
	fmt.Fprintf(e.stderr, "groupctl %s: %v\n", args[0], err)
	var ce codeError
	if errors.As(err, &ce) {
		return ce.code
	}
	return exitError
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: groupctl COMMAND [flags] [args]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-14s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'groupctl COMMAND --help' for a command's flags, 'groupctl --version' for the version.")
}

// usageError is a problem with the command line: exit status 2.
type usageError struct {
	msg   string
	usage string
}

func (e usageError) Error() string { return e.msg }

// helpRequested: --help or -h was given; the usage goes to stdout and the
// exit status is 0.
type helpRequested struct{ usage string }

func (h helpRequested) Error() string { return "help requested" }

// codeError carries a specific exit status.
type codeError struct {
	err  error
	code int
}

func (e codeError) Error() string { return e.err.Error() }
func (e codeError) Unwrap() error { return e.err }
