// admin: runs franz-go's admin client (kadm) through run-time topic administration against one
// broker and prints what it saw as one JSON object: incremental config changes (SET, APPEND,
// SUBTRACT, DELETE) and their DescribeConfigs view, the AlterConfigs "state" form, an invalid
// value, CreatePartitions (validate-only, add, set), DeleteRecords and the start offset after it.
// test_topic_alter.py runs it against the reference Kafka and against Sluice and compares.
// Every step records its own error string instead of aborting; the topic is deleted at the end.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

type out struct {
	Steps  map[string]string `json:"steps"`  // step -> "ok" or its error
	Values map[string]string `json:"values"` // observations (config values, offsets, counts)
}

func errText(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

func ptr(s string) *string { return &s }

func main() {
	brokers := flag.String("brokers", "127.0.0.1:9092", "bootstrap")
	topic := flag.String("topic", "kadm-admin", "topic to create, alter and delete")
	timeout := flag.Duration("timeout", 30*time.Second, "overall deadline")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	o := out{Steps: map[string]string{}, Values: map[string]string{}}
	cl, err := kgo.NewClient(kgo.SeedBrokers(*brokers), kgo.DefaultProduceTopic(*topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	failed := false
	step := func(name string, err error) bool {
		o.Steps[name] = errText(err)
		failed = failed || err != nil
		return err == nil
	}
	// describe records the keys' values and sources. Kafka applies an accepted change to its
	// broker asynchronously (controller first, then the broker's metadata), so it polls until each
	// key shows the value the change asked for, or 10 s passed; Sluice applies it at once.
	describe := func(label string, want map[string]string) {
		deadline := time.Now().Add(10 * time.Second)
		for {
			rcs, err := adm.DescribeTopicConfigs(ctx, *topic)
			if !step("describe "+label, err) {
				return
			}
			rc, err := rcs.On(*topic, nil)
			if !step("describe "+label+" result", err) {
				return
			}
			settled := true
			for _, c := range rc.Configs {
				w, ok := want[c.Key]
				if !ok {
					continue
				}
				v := "<null>"
				if c.Value != nil {
					v = *c.Value
				}
				o.Values[label+" "+c.Key] = fmt.Sprintf("%s (%s)", v, c.Source)
				settled = settled && v == w
			}
			if settled || time.Now().After(deadline) {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	alterErr := func(rs kadm.AlterConfigsResponses, err error) error {
		if err != nil {
			return err
		}
		for _, r := range rs {
			if r.Err != nil {
				return fmt.Errorf("%v: %s", r.Err, r.ErrMessage)
			}
		}
		return nil
	}

	_, err = adm.CreateTopic(ctx, 2, 1, nil, *topic)
	step("create topic", err)
	step("incremental set and append", alterErr(adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "retention.ms", Value: ptr("3600000")},
		{Op: kadm.AppendConfig, Name: "cleanup.policy", Value: ptr("compact")},
	}, *topic)))
	describe("after set", map[string]string{"retention.ms": "3600000", "cleanup.policy": "delete,compact"})
	step("incremental subtract and delete", alterErr(adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
		{Op: kadm.SubtractConfig, Name: "cleanup.policy", Value: ptr("delete")},
		{Op: kadm.DeleteConfig, Name: "retention.ms"},
	}, *topic)))
	describe("after subtract", map[string]string{"retention.ms": "604800000", "cleanup.policy": "compact"})
	o.Values["invalid value"] = errText(alterErr(adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "retention.ms", Value: ptr("soon")},
	}, *topic)))
	step("state alter", alterErr(adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{
		{Name: "max.message.bytes", Value: ptr("20000")},
	}, *topic)))
	describe("after state", map[string]string{"max.message.bytes": "20000", "cleanup.policy": "delete"})

	cps, err := adm.ValidateCreatePartitions(ctx, 1, *topic)
	if step("validate create partitions", err) {
		step("validate create partitions result", cps[*topic].Err)
	}
	cps, err = adm.CreatePartitions(ctx, 1, *topic)
	if step("create partitions", err) {
		step("create partitions result", cps[*topic].Err)
	}
	cps, err = adm.UpdatePartitions(ctx, 2, *topic)
	if step("shrink partitions", err) {
		o.Values["shrink"] = fmt.Sprintf("%v: %s", cps[*topic].Err, cps[*topic].ErrMessage)
	}
	// Kafka publishes new partitions to its metadata cache asynchronously, so a
	// client polls until they appear; Sluice answers with them at once.
	var tds kadm.TopicDetails
	for i := 0; i < 100; i++ {
		tds, err = adm.ListTopics(ctx, *topic)
		if err != nil || len(tds[*topic].Partitions) >= 3 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if step("list topics", err) {
		o.Values["partitions"] = fmt.Sprint(len(tds[*topic].Partitions))
	}

	for i := 0; i < 10; i++ {
		r := &kgo.Record{Partition: 2, Value: []byte(fmt.Sprintf("v%d", i))}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			step("produce to the new partition", err)
			break
		}
	}
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: *topic, Partition: 2, At: 4})
	drs, err := adm.DeleteRecords(ctx, offs)
	if step("delete records", err) {
		d, _ := drs.Lookup(*topic, 2)
		o.Values["low watermark"] = fmt.Sprint(d.LowWatermark)
		step("delete records result", d.Err)
	}
	offs = kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: *topic, Partition: 2, At: 11})
	drs, err = adm.DeleteRecords(ctx, offs)
	if step("delete records beyond", err) {
		d, _ := drs.Lookup(*topic, 2)
		o.Values["beyond"] = errText(d.Err)
	}
	starts, err := adm.ListStartOffsets(ctx, *topic)
	if step("list start offsets", err) {
		var parts []string
		starts.Each(func(l kadm.ListedOffset) {
			parts = append(parts, fmt.Sprintf("%d:%d", l.Partition, l.Offset))
		})
		sort.Strings(parts)
		o.Values["start offsets"] = fmt.Sprint(parts)
	}
	_, err = adm.DeleteTopics(ctx, *topic)
	step("delete topic", err)

	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	_ = enc.Encode(o) // stdout going away is the test's problem to report
	if failed {
		os.Exit(1)
	}
}
