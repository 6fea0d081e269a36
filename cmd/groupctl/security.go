package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// envSASLPassword gives --sasl-password's default, so that the password
// need not appear in the process list.
const envSASLPassword = "CONSUMERGROUP_SASL_PASSWORD"

// security holds the flags of Kafka's TLS and SASL.
type security struct {
	tls            bool
	ca, cert, key  string
	insecure       bool
	mechanism      string
	user, password string
}

func (s *security) flags(fs *flag.FlagSet) {
	fs.BoolVar(&s.tls, "tls", false, "connect to Kafka over TLS (implied by the other --tls-* flags)")
	fs.StringVar(&s.ca, "tls-ca", "", "PEM file of the CAs that sign Kafka's certificates (default: the system's)")
	fs.StringVar(&s.cert, "tls-cert", "", "PEM file of the client certificate (with --tls-key)")
	fs.StringVar(&s.key, "tls-key", "", "PEM file of the client certificate's key (with --tls-cert)")
	fs.BoolVar(&s.insecure, "tls-insecure-skip-verify", false, "do not verify Kafka's certificates (tests only)")
	fs.StringVar(&s.mechanism, "sasl-mechanism", "", "Kafka SASL mechanism: plain, scram-sha-256 or scram-sha-512")
	fs.StringVar(&s.user, "sasl-user", "", "Kafka SASL user")
	fs.StringVar(&s.password, "sasl-password", "", "Kafka SASL password (default from $"+envSASLPassword+")")
}

// check reports flags that do not go together.
func (s *security) check(getenv func(string) string) error {
	switch s.mechanism {
	case "", "plain", "scram-sha-256", "scram-sha-512":
	default:
		return fmt.Errorf("--sasl-mechanism must be plain, scram-sha-256 or scram-sha-512, not %q", s.mechanism)
	}
	pass := s.password
	if pass == "" && getenv != nil {
		pass = getenv(envSASLPassword)
	}
	switch {
	case s.mechanism != "" && (s.user == "" || pass == ""):
		return fmt.Errorf("--sasl-mechanism %s needs --sasl-user and --sasl-password (or $%s)", s.mechanism, envSASLPassword)
	case s.mechanism == "" && s.user != "":
		return errors.New("--sasl-user needs --sasl-mechanism")
	case (s.cert == "") != (s.key == ""):
		return errors.New("--tls-cert and --tls-key go together")
	}
	return nil
}

// opts returns the franz-go options of the flags.
func (s *security) opts(getenv func(string) string) ([]kgo.Opt, error) {
	var opts []kgo.Opt
	if s.tls || s.ca != "" || s.cert != "" || s.insecure {
		cfg := &tls.Config{InsecureSkipVerify: s.insecure} //nolint:gosec // asked for by --tls-insecure-skip-verify
		if s.ca != "" {
			pem, err := os.ReadFile(s.ca)
			if err != nil {
				return nil, fmt.Errorf("--tls-ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("--tls-ca %s: no PEM certificate in it", s.ca)
			}
			cfg.RootCAs = pool
		}
		if s.cert != "" {
			pair, err := tls.LoadX509KeyPair(s.cert, s.key)
			if err != nil {
				return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
			}
			cfg.Certificates = []tls.Certificate{pair}
		}
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	pass := s.password
	if pass == "" && getenv != nil {
		pass = getenv(envSASLPassword)
	}
	switch s.mechanism {
	case "plain":
		opts = append(opts, kgo.SASL(plain.Auth{User: s.user, Pass: pass}.AsMechanism()))
	case "scram-sha-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: s.user, Pass: pass}.AsSha256Mechanism()))
	case "scram-sha-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: s.user, Pass: pass}.AsSha512Mechanism()))
	}
	return opts, nil
}
