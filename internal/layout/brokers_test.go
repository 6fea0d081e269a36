package layout_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/consumergroup/consumergroup/internal/layout"
)

func ep(listener, protocol, host string, port int) layout.Endpoint {
	return layout.Endpoint{Listener: listener, SecurityProtocol: protocol, Host: host, Port: port}
}

var parseBrokerCases = []struct {
	name string
	in   string
	want layout.Broker
	addr string // Addr("")
}{
	{
		"v1",
		`{"version":1,"host":"h","port":9092,"jmx_port":-1,"timestamp":"1416974968782"}`,
		layout.Broker{ID: 1, Version: 1, Host: "h", Port: 9092},
		"h:9092",
	},
	{
		"v2 with endpoints",
		`{"jmx_port":-1,"timestamp":"1416974968782","endpoints":["PLAINTEXT://h:9092"],"host":"h","version":2,"port":9092}`,
		layout.Broker{ID: 1, Version: 2, Host: "h", Port: 9092, Endpoints: []layout.Endpoint{ep("PLAINTEXT", "PLAINTEXT", "h", 9092)}},
		"h:9092",
	},
	{
		"v4 with listener map and rack",
		`{"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},"endpoints":["PLAINTEXT://h:9092"],"rack":"r1","jmx_port":-1,"host":"h","timestamp":"1416974968782","port":9092,"version":4}`,
		layout.Broker{ID: 1, Version: 4, Host: "h", Port: 9092, Endpoints: []layout.Endpoint{ep("PLAINTEXT", "PLAINTEXT", "h", 9092)}, Rack: "r1"},
		"h:9092",
	},
	{
		"v5 with features",
		`{"features":{"metadata.version":{"min_version":1,"max_version":7}},"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},"endpoints":["PLAINTEXT://h:9092"],"jmx_port":9999,"port":9092,"host":"h","version":5,"timestamp":"1622553245355"}`,
		layout.Broker{ID: 1, Version: 5, Host: "h", Port: 9092, Endpoints: []layout.Endpoint{ep("PLAINTEXT", "PLAINTEXT", "h", 9092)}},
		"h:9092",
	},
	{
		"v5 with empty features and null rack",
		`{"features":{},"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},"endpoints":["PLAINTEXT://h:9092"],"rack":null,"jmx_port":-1,"port":9092,"host":"h","version":5,"timestamp":"1622553245355"}`,
		layout.Broker{ID: 1, Version: 5, Host: "h", Port: 9092, Endpoints: []layout.Endpoint{ep("PLAINTEXT", "PLAINTEXT", "h", 9092)}},
		"h:9092",
	},
	{
		"host null, port -1, only endpoints: custom listener mapped to PLAINTEXT",
		`{"listener_security_protocol_map":{"EXTERNAL":"SSL","INTERNAL":"PLAINTEXT"},"endpoints":["EXTERNAL://b1.example.com:9093","INTERNAL://10.0.0.1:9092"],"jmx_port":-1,"host":null,"timestamp":"1416974968782","port":-1,"version":4}`,
		layout.Broker{ID: 1, Version: 4, Host: "", Port: -1, Endpoints: []layout.Endpoint{
			ep("EXTERNAL", "SSL", "b1.example.com", 9093),
			ep("INTERNAL", "PLAINTEXT", "10.0.0.1", 9092),
		}},
		"10.0.0.1:9092",
	},
	{
		"no host and no port fields",
		`{"version":4,"endpoints":["PLAINTEXT://h:9092"]}`,
		layout.Broker{ID: 1, Version: 4, Host: "", Port: -1, Endpoints: []layout.Endpoint{ep("PLAINTEXT", "PLAINTEXT", "h", 9092)}},
		"h:9092",
	},
	{
		"several listeners, PLAINTEXT by name chosen by default",
		`{"version":4,"host":null,"port":-1,"listener_security_protocol_map":{"SSL":"SSL","CLIENT":"PLAINTEXT","PLAINTEXT":"PLAINTEXT"},"endpoints":["SSL://h:9093","CLIENT://c:9094","PLAINTEXT://p:9092"]}`,
		layout.Broker{ID: 1, Version: 4, Port: -1, Endpoints: []layout.Endpoint{
			ep("SSL", "SSL", "h", 9093),
			ep("CLIENT", "PLAINTEXT", "c", 9094),
			ep("PLAINTEXT", "PLAINTEXT", "p", 9092),
		}},
		"p:9092",
	},
	{
		"endpoints preferred over the host and port fields",
		`{"version":2,"host":"old","port":1234,"endpoints":["PLAINTEXT://new:9092"]}`,
		layout.Broker{ID: 1, Version: 2, Host: "old", Port: 1234, Endpoints: []layout.Endpoint{ep("PLAINTEXT", "PLAINTEXT", "new", 9092)}},
		"new:9092",
	},
	{
		"SSL-only endpoints with v1 host fields: the fields",
		`{"version":2,"host":"h","port":9092,"endpoints":["SSL://h:9093"]}`,
		layout.Broker{ID: 1, Version: 2, Host: "h", Port: 9092, Endpoints: []layout.Endpoint{ep("SSL", "SSL", "h", 9093)}},
		"h:9092",
	},
	{
		"IPv6 endpoint",
		`{"version":4,"host":null,"port":-1,"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},"endpoints":["PLAINTEXT://[::1]:9092"]}`,
		layout.Broker{ID: 1, Version: 4, Port: -1, Endpoints: []layout.Endpoint{ep("PLAINTEXT", "PLAINTEXT", "::1", 9092)}},
		"[::1]:9092",
	},
	{
		"IPv6 endpoint with a zone",
		`{"version":4,"host":null,"port":-1,"endpoints":["PLAINTEXT://[fe80::1%eth0]:9092"]}`,
		layout.Broker{ID: 1, Version: 4, Port: -1, Endpoints: []layout.Endpoint{ep("PLAINTEXT", "PLAINTEXT", "fe80::1%eth0", 9092)}},
		"[fe80::1%eth0]:9092",
	},
	{
		"IPv6 v1 host",
		`{"version":1,"host":"fe80::1","port":9092}`,
		layout.Broker{ID: 1, Version: 1, Host: "fe80::1", Port: 9092},
		"[fe80::1]:9092",
	},
	{
		"lower-case listener name",
		`{"version":2,"host":null,"port":-1,"endpoints":["plaintext://h:9092"]}`,
		layout.Broker{ID: 1, Version: 2, Port: -1, Endpoints: []layout.Endpoint{ep("PLAINTEXT", "PLAINTEXT", "h", 9092)}},
		"h:9092",
	},
}

func TestParseBroker(t *testing.T) {
	for _, tc := range parseBrokerCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := layout.ParseBroker(1, []byte(tc.in))
			if err != nil {
				t.Fatalf("ParseBroker(%s): %v", tc.in, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseBroker(%s)\n got %+v\nwant %+v", tc.in, got, tc.want)
			}
			addr, err := got.Addr("")
			if err != nil || addr != tc.addr {
				t.Errorf("Addr(\"\") = %q, %v; want %q", addr, err, tc.addr)
			}
		})
	}
}

func TestBrokerAddrListeners(t *testing.T) {
	const multi = `{"version":4,"host":null,"port":-1,` +
		`"listener_security_protocol_map":{"INTERNAL":"PLAINTEXT","EXTERNAL":"SASL_SSL","REPLICATION":"SSL"},` +
		`"endpoints":["EXTERNAL://b1.example.com:9093","INTERNAL://10.0.0.1:9092","REPLICATION://10.0.0.1:9094"]}`
	b, err := layout.ParseBroker(7, []byte(multi))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ listener, want string }{
		{"", "10.0.0.1:9092"},
		{"INTERNAL", "10.0.0.1:9092"},
		{"external", "b1.example.com:9093"},
		{"External", "b1.example.com:9093"},
		{"replication", "10.0.0.1:9094"},
	} {
		if got, err := b.Addr(tc.listener); err != nil || got != tc.want {
			t.Errorf("Addr(%q) = %q, %v; want %q", tc.listener, got, err, tc.want)
		}
	}
	_, err = b.Addr("PLAINTEXT")
	if err == nil {
		t.Fatal(`Addr("PLAINTEXT") of a broker without it: nil error`)
	}
	for _, want := range []string{"broker 7", `"PLAINTEXT"`, "EXTERNAL", "INTERNAL", "REPLICATION"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Addr(\"PLAINTEXT\"): error %q does not say %q", err, want)
		}
	}

	// SSL only: no default, and the error names the listeners there are.
	ssl, err := layout.ParseBroker(3, []byte(`{"version":4,"host":null,"port":-1,"listener_security_protocol_map":{"SSL":"SSL","SASL_SSL":"SASL_SSL"},"endpoints":["SSL://h:9093","SASL_SSL://h:9094"]}`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = ssl.Addr("")
	if err == nil {
		t.Fatal("Addr of an SSL-only broker: nil error")
	}
	for _, want := range []string{"broker 3", "PLAINTEXT", "SSL, SASL_SSL", "name the listener"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Addr of an SSL-only broker: error %q does not say %q", err, want)
		}
	}
	if got, err := ssl.Addr("ssl"); err != nil || got != "h:9093" {
		t.Errorf(`Addr("ssl") = %q, %v`, got, err)
	}

	// A v1 broker has no listeners to name.
	v1, err := layout.ParseBroker(1, []byte(`{"version":1,"host":"h","port":9092}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v1.Addr("INTERNAL"); err == nil || !strings.Contains(err.Error(), "no endpoints") {
		t.Errorf(`v1 Addr("INTERNAL"): %v, want an error saying it has no endpoints`, err)
	}

	// A broker listening on every interface cannot be dialed.
	any, err := layout.ParseBroker(2, []byte(`{"version":4,"host":null,"port":-1,"endpoints":["PLAINTEXT://:9092"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := any.Addr(""); err == nil || !strings.Contains(err.Error(), "no host") {
		t.Errorf("Addr of an endpoint without host: %v, want an error saying so", err)
	}

	if got := ep("X", "X", "::1", 9092).Addr(); got != "[::1]:9092" {
		t.Errorf("Endpoint.Addr = %q", got)
	}
}

var parseBrokerBadCases = []struct{ name, in, msg string }{
	{"empty node", ``, "empty"},
	{"truncated", `{"version":1,"host":"h","port":90`, "unexpected EOF"},
	{"truncated string", `{"version":1,"host":"h`, "unexpected EOF"},
	{"not JSON", `h:9092`, "invalid character"},
	{"null", `null`, "no version"},
	{"missing version", `{"host":"h","port":9092,"jmx_port":-1,"timestamp":"1416974968782"}`, "no version"},
	{"trailing garbage", `{"version":1,"host":"h","port":9092}garbage`, "trailing data"},
	{"trailing bracket", `{"version":1,"host":"h","port":9092}]`, "trailing data"},
	{"negative port", `{"version":1,"host":"h","port":-2}`, "port -2 is out of range"},
	{"port -1 with a host", `{"version":1,"host":"h","port":-1}`, "port -1 is out of range"},
	{"no port with a host", `{"version":1,"host":"h"}`, "port -1 is out of range"},
	{"port 0", `{"version":1,"host":"h","port":0}`, "port 0 is out of range"},
	{"port 70000", `{"version":1,"host":"h","port":70000}`, "port 70000 is out of range"},
	{"port as a string", `{"version":1,"host":"h","port":"9092"}`, "port"},
	{"fractional port", `{"version":1,"host":"h","port":9092.5}`, "port"},
	{"endpoint without ://", `{"version":2,"host":null,"port":-1,"endpoints":["h:9092"]}`, `endpoint "h:9092" is not NAME://host:port`},
	{"endpoint without listener", `{"version":2,"host":null,"port":-1,"endpoints":["://h:9092"]}`, `endpoint "://h:9092" is not NAME://host:port`},
	{"endpoint without port", `{"version":2,"host":null,"port":-1,"endpoints":["PLAINTEXT://h"]}`, `endpoint "PLAINTEXT://h"`},
	{"endpoint port 70000", `{"version":2,"host":null,"port":-1,"endpoints":["PLAINTEXT://h:70000"]}`, `port "70000" is out of range`},
	{"endpoint port 0", `{"version":2,"host":null,"port":-1,"endpoints":["PLAINTEXT://h:0"]}`, `port "0" is out of range`},
	{"endpoint port -1", `{"version":2,"host":null,"port":-1,"endpoints":["PLAINTEXT://h:-1"]}`, `port "-1" is out of range`},
	{"endpoint port name", `{"version":2,"host":null,"port":-1,"endpoints":["PLAINTEXT://h:kafka"]}`, `port "kafka" is out of range`},
	{"endpoint with a path", `{"version":2,"host":null,"port":-1,"endpoints":["PLAINTEXT://h:9092/x"]}`, `endpoint "PLAINTEXT://h:9092/x"`},
	{"unbracketed IPv6 endpoint", `{"version":2,"host":null,"port":-1,"endpoints":["PLAINTEXT://::1:9092"]}`, "too many colons"},
	{"endpoint not a string", `{"version":2,"host":null,"port":-1,"endpoints":[9092]}`, "endpoints"},
	{"empty security protocol", `{"version":0,"listener_seCuritY_protoCol_mAp":{"SSL":""},"endpoints":["SSL://:1"]}`, `listener "SSL" has an empty security protocol`}, // found by FuzzParseBroker
	{"huge endpoint", `{"version":2,"host":null,"port":-1,"endpoints":["PLAINTEXT://` + strings.Repeat("::", 100000) + `:1"]}`, "too many colons"},
	{"huge endpoint without ://", `{"version":2,"host":null,"port":-1,"endpoints":["` + strings.Repeat("\xfe", 2000) + `"]}`, "is not NAME://host:port"}, // found by FuzzParseBroker: a long error
	{"huge endpoint port", `{"version":2,"host":null,"port":-1,"endpoints":["PLAINTEXT://h:` + strings.Repeat("9", 100000) + `"]}`, `port "999`},
	{"huge host", `{"version":1,"host":"` + strings.Repeat("]", 100000) + `","port":1}`, "contains a bracket"},
	{"huge port", `{"version":1,"host":"h","port":` + strings.Repeat("9", 100000) + `}`, "cannot unmarshal number 999"},
	{"neither host nor endpoints", `{"version":4,"host":null,"port":-1,"endpoints":[]}`, "neither host nor endpoints"},
	{"empty host, no endpoints", `{"version":1,"host":"","port":9092}`, "neither host nor endpoints"},
	{"host with a bracket", `{"version":1,"host":"h]","port":9092}`, `host "h]"`},
	{"host with a port", `{"version":1,"host":"h:9092","port":9092}`, `host "h:9092"`},
	{"bracketed endpoint host that is not IPv6", `{"version":2,"host":null,"port":-1,"endpoints":["PLAINTEXT://[h:1]:9092"]}`, `host "h:1"`},
	{"bad host beside good endpoints", `{"version":2,"host":"[h]","port":9092,"endpoints":["PLAINTEXT://h:9092"]}`, `host "[h]"`},
}

func TestParseBrokerBadData(t *testing.T) {
	for _, tc := range parseBrokerBadCases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := layout.ParseBroker(1, []byte(tc.in))
			if err == nil {
				t.Fatalf("ParseBroker(%s) = %+v, nil; want an error", tc.in, b)
			}
			checkBadData(t, err, "broker 1", tc.msg)
		})
	}
}

var topicEncodeCases = []struct {
	in   layout.TopicAssignment
	want string
}{
	{
		layout.TopicAssignment{Version: 1, Partitions: map[int32][]int32{0: {1, 2}, 1: {2, 3}}},
		`{"version":1,"partitions":{"0":[1,2],"1":[2,3]}}`,
	},
	{
		layout.TopicAssignment{Version: 1, Partitions: map[int32][]int32{0: {1}}},
		`{"version":1,"partitions":{"0":[1]}}`,
	},
	{
		// Numeric order, not the string order of the keys.
		layout.TopicAssignment{Version: 2, Partitions: map[int32][]int32{
			0: {1}, 1: {2}, 2: {3}, 3: {1}, 4: {2}, 5: {3}, 6: {1}, 7: {2}, 8: {3}, 9: {1}, 10: {2}, 11: {3},
		}},
		`{"version":2,"partitions":{"0":[1],"1":[2],"2":[3],"3":[1],"4":[2],"5":[3],"6":[1],"7":[2],"8":[3],"9":[1],"10":[2],"11":[3]}}`,
	},
	{
		layout.TopicAssignment{Version: 1, Partitions: map[int32][]int32{0: nil, 1: {}}},
		`{"version":1,"partitions":{"0":[],"1":[]}}`,
	},
	{
		layout.TopicAssignment{Version: 1, Partitions: map[int32][]int32{}},
		`{"version":1,"partitions":{}}`,
	},
}

func TestTopicAssignmentEncodeGolden(t *testing.T) {
	for _, tc := range topicEncodeCases {
		got := tc.in.Encode()
		if string(got) != tc.want {
			t.Errorf("Encode(%+v)\n got %s\nwant %s", tc.in, got, tc.want)
		}
		back, err := layout.ParseTopic(got)
		if err != nil {
			t.Fatalf("ParseTopic(%s): %v", got, err)
		}
		if back.Count() != tc.in.Count() || !reflect.DeepEqual(back.Encode(), got) {
			t.Errorf("ParseTopic(%s) = %+v, does not encode back", got, back)
		}
	}
}

var parseTopicCases = []struct {
	name  string
	in    string
	want  layout.TopicAssignment
	count int32
}{
	{
		"v1 as in the layout document",
		`{"version":1,"partitions":{"0":[1,2],"1":[2,3]}}`,
		layout.TopicAssignment{Version: 1, Partitions: map[int32][]int32{0: {1, 2}, 1: {2, 3}}},
		2,
	},
	{
		"Kafka 2.4 v2 with reassignment fields",
		`{"version":2,"partitions":{"2":[3],"1":[2],"0":[1]},"adding_replicas":{},"removing_replicas":{}}`,
		layout.TopicAssignment{Version: 2, Partitions: map[int32][]int32{0: {1}, 1: {2}, 2: {3}}},
		3,
	},
	{
		"Kafka 3 v3 with topic id",
		`{"partitions":{"0":[1001,1002]},"topic_id":"nWt8Nn2ySgSbbXJ3v4xTQg","adding_replicas":{},"removing_replicas":{},"version":3}`,
		layout.TopicAssignment{Version: 3, Partitions: map[int32][]int32{0: {1001, 1002}}},
		1,
	},
}

func TestParseTopic(t *testing.T) {
	for _, tc := range parseTopicCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := layout.ParseTopic([]byte(tc.in))
			if err != nil {
				t.Fatalf("ParseTopic(%s): %v", tc.in, err)
			}
			if !reflect.DeepEqual(got, tc.want) || got.Count() != tc.count {
				t.Errorf("ParseTopic(%s) = %+v (count %d), want %+v (count %d)", tc.in, got, got.Count(), tc.want, tc.count)
			}
		})
	}
}

var parseTopicBadCases = []struct{ name, in, msg string }{
	{"empty node", ``, "empty"},
	{"truncated", `{"version":1,"partitions":{"0":[1,`, "unexpected EOF"},
	{"trailing garbage", `{"version":1,"partitions":{"0":[1]}}}`, "trailing data"},
	{"missing version", `{"partitions":{"0":[1]}}`, "no version"},
	{"no partitions", `{"version":1}`, "no partitions"},
	{"null partitions", `{"version":1,"partitions":null}`, "no partitions"},
	{"gap in partition ids", `{"version":1,"partitions":{"0":[1],"2":[1]}}`, "2 partitions but no partition 1"},
	{"no partition 0", `{"version":1,"partitions":{"1":[1]}}`, "1 partitions but no partition 0"},
	{"leading zero", `{"version":1,"partitions":{"0":[1],"01":[1]}}`, `partition "01" is not a non-negative decimal integer`},
	{"negative partition", `{"version":1,"partitions":{"-1":[1]}}`, `partition "-1"`},
	{"named partition", `{"version":1,"partitions":{"zero":[1]}}`, `partition "zero"`},
	{"partition id too big", `{"version":1,"partitions":{"2147483648":[1]}}`, `partition "2147483648"`},
	{"replicas not a list", `{"version":1,"partitions":{"0":1}}`, "partitions"},
	{"replica not an integer", `{"version":1,"partitions":{"0":["a"]}}`, "partitions"},
	{"huge partition key", `{"version":1,"partitions":{"` + strings.Repeat("1", 100000) + `":[1]}}`, `partition "111`},
	{"huge replica id", `{"version":1,"partitions":{"0":[` + strings.Repeat("1", 100000) + `]}}`, "cannot unmarshal number 111"},
}

func TestParseTopicBadData(t *testing.T) {
	for _, tc := range parseTopicBadCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := layout.ParseTopic([]byte(tc.in))
			if err == nil {
				t.Fatalf("ParseTopic(%s) = %+v, nil; want an error", tc.in, got)
			}
			checkBadData(t, err, "topic assignment", tc.msg)
		})
	}
}

// TestParsePartitionLeader: the leader of a controller's state node, of
// every version's shape; refusals name the node kind.
func TestParsePartitionLeader(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int32
		err  bool
	}{
		{`{"controller_epoch":1,"leader":2,"version":1,"leader_epoch":0,"isr":[2,1]}`, 2, false},
		{`{"controller_epoch":3,"leader":-1,"version":1,"leader_epoch":4,"isr":[]}`, -1, false},
		{`{"version":2,"leader":0,"leader_epoch":7,"isr":[0],"leader_recovery_state":0,"controller_epoch":2}`, 0, false},
		{`{"version":1,"isr":[1]}`, 0, true},
		{`{"leader":"1"}`, 0, true},
		{`not json`, 0, true},
	} {
		got, err := layout.ParsePartitionLeader([]byte(c.in))
		if c.err {
			if !errors.Is(err, layout.ErrBadData) || !strings.Contains(err.Error(), "partition state") {
				t.Errorf("layout.ParsePartitionLeader(%s) = %d, %v; want layout.ErrBadData naming the partition state", c.in, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("layout.ParsePartitionLeader(%s) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
}
