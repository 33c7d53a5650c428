// The Java consumer (classic group protocol) for test_groups.py: subscribes with the given
// assignor ("range" or "cooperative-sticky") and optional group.instance.id, polls until the group
// stops IDLE_MS after the last record it read, committing synchronously after every poll, and
// prints one JSON line: the partitions it owned when it read its last record, and the values.
// usage: GroupConsumer BOOTSTRAP TOPIC GROUP ASSIGNOR INSTANCE_ID|- IDLE_MS
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Properties;
import java.util.TreeSet;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RebalanceInProgressException;
import org.apache.kafka.common.serialization.StringDeserializer;

public class GroupConsumer {
    public static void main(String[] args) throws Exception {
        String bootstrap = args[0], topic = args[1], group = args[2], assignor = args[3];
        String instance = args[4];
        long idleMs = Long.parseLong(args[5]);
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "300");
        p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "10000");
        p.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG,
              assignor.equals("range") ? "org.apache.kafka.clients.consumer.RangeAssignor"
                                       : "org.apache.kafka.clients.consumer.CooperativeStickyAssignor");
        if (!instance.equals("-"))
            p.put(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, instance);
        TreeSet<Integer> owned = new TreeSet<>(), last = new TreeSet<>();
        List<String> values = new ArrayList<>();
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p)) {
            c.subscribe(List.of(topic), new ConsumerRebalanceListener() {
                public void onPartitionsRevoked(Collection<TopicPartition> parts) {
                    for (TopicPartition tp : parts) owned.remove(tp.partition());
                }
                public void onPartitionsAssigned(Collection<TopicPartition> parts) {
                    for (TopicPartition tp : parts) owned.add(tp.partition());
                }
            });
            long deadline = System.currentTimeMillis() + 60000, lastRecord = 0;
            while (System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(100))) {
                    values.add(r.value());
                    lastRecord = System.currentTimeMillis();
                    last.clear();
                    last.addAll(owned);
                }
                try {
                    c.commitSync();
                } catch (RebalanceInProgressException e) {
                    // the other member left: the next poll rejoins, and the commit is retried
                }
                if (lastRecord > 0 && System.currentTimeMillis() - lastRecord > idleMs)
                    break;
            }
        }
        StringBuilder out = new StringBuilder("{\"partitions\": " + last + ", \"values\": [");
        for (int i = 0; i < values.size(); i++)
            out.append(i > 0 ? ", " : "").append('"').append(values.get(i)).append('"');
        System.out.println(out.append("]}"));
    }
}
