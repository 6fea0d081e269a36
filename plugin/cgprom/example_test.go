package cgprom_test

import (
	"log"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/plugin/cgprom"
)

// Example serves a member's metrics on /metrics.
func Example() {
	metrics := cgprom.NewMetrics("consumergroup")
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics)
	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	go func() { log.Fatal(http.ListenAndServe("127.0.0.1:9100", nil)) }()

	cfg := consumergroup.NewConsumerGroupConfig()
	cfg.Metrics = metrics
	group, err := consumergroup.JoinConsumerGroup("billing", "invoices", []string{"127.0.0.1:2181"}, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer group.Close()
	for ev := range group.Stream() {
		_ = ev // process it
	}
}
