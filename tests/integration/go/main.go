// kadmprobe: connects to a Kafka-compatible broker with franz-go's admin client (kadm) and prints,
// as one JSON object on stdout, what kadm sees: the cluster id, the controller, the brokers, the
// topics and each broker's ApiVersions ranges. test_franz_go.py asserts on that output.
// Every step reports its own error string instead of aborting, so one failure does not hide the rest;
// the exit status is 1 when any step failed.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

type broker struct {
	NodeID int32  `json:"node_id"`
	Host   string `json:"host"`
	Port   int32  `json:"port"`
}

type apiVersions struct {
	Error string `json:"error,omitempty"`
	// Keys maps the api key (as a decimal string, JSON keys being strings) to [min, max].
	Keys         map[string][2]int16 `json:"keys"`
	VersionGuess string              `json:"version_guess"`
}

type report struct {
	MetadataError string                 `json:"metadata_error,omitempty"`
	ClusterID     string                 `json:"cluster_id"`
	Controller    int32                  `json:"controller"`
	Brokers       []broker               `json:"brokers"`
	TopicsError   string                 `json:"topics_error,omitempty"`
	Topics        []string               `json:"topics"`
	ApiError      string                 `json:"api_versions_error,omitempty"`
	ApiVersions   map[string]apiVersions `json:"api_versions"`
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func probe(ctx context.Context, adm *kadm.Client) (report, bool) {
	r := report{Controller: -1, Brokers: []broker{}, Topics: []string{},
		ApiVersions: map[string]apiVersions{}}
	ok := true

	md, err := adm.BrokerMetadata(ctx)
	if r.MetadataError = errString(err); err != nil {
		ok = false
	} else {
		r.ClusterID, r.Controller = md.Cluster, md.Controller
		for _, b := range md.Brokers {
			r.Brokers = append(r.Brokers, broker{b.NodeID, b.Host, b.Port})
		}
	}

	topics, err := adm.ListTopics(ctx)
	if r.TopicsError = errString(err); err != nil {
		ok = false
	} else {
		r.Topics = topics.Names()
	}

	vers, err := adm.ApiVersions(ctx)
	if r.ApiError = errString(err); err != nil {
		ok = false
	}
	for _, v := range vers.Sorted() {
		av := apiVersions{Error: errString(v.Err), Keys: map[string][2]int16{}}
		if v.Err != nil {
			ok = false
		} else {
			v.EachKeySorted(func(key, min, max int16) { av.Keys[fmt.Sprint(key)] = [2]int16{min, max} })
			av.VersionGuess = v.VersionGuess()
		}
		r.ApiVersions[fmt.Sprint(v.NodeID)] = av
	}
	return r, ok
}

func main() {
	brokers := flag.String("brokers", "127.0.0.1:9092", "comma-separated bootstrap brokers")
	timeout := flag.Duration("timeout", 20*time.Second, "overall deadline")
	flag.Parse()

	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(*brokers, ",")...),
		kgo.RetryTimeout(5*time.Second), kgo.DialTimeout(5*time.Second))
	if err != nil {
		fmt.Fprintln(os.Stderr, "kadmprobe:", err)
		os.Exit(2)
	}
	defer cl.Close()

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	r, ok := probe(ctx, kadm.NewClient(cl))

	out, _ := json.MarshalIndent(r, "", "  ")
	fmt.Println(string(out))
	if !ok {
		os.Exit(1)
	}
}
