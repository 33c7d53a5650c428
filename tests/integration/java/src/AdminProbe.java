// AdminProbe: asks a Kafka-compatible broker, through the Java AdminClient (kafka-clients 4.0.0),
// for describeCluster (cluster id, controller, nodes), listTopics and describeFeatures, and prints
// one JSON object on stdout for test_java_clients.py. Each step reports its own error, so one
// failure does not hide the others; the exit status is 1 when any step failed.
// Compiled at test time with javac against build/kafka-libs; no dependencies beyond kafka-clients.

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.FeatureMetadata;
import org.apache.kafka.common.Node;

public final class AdminProbe {
    private AdminProbe() {}

    static String quote(String s) {
        if (s == null) {
            return "null";
        }
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.append('"').toString();
    }

    static String node(Node n) {
        if (n == null) {
            return "null";
        }
        return "{\"id\": " + n.id() + ", \"host\": " + quote(n.host()) + ", \"port\": " + n.port()
                + ", \"rack\": " + quote(n.rack()) + "}";
    }

    static String error(Throwable t) {
        Throwable cause = t instanceof ExecutionException && t.getCause() != null ? t.getCause() : t;
        return quote(cause.getClass().getName() + ": " + cause.getMessage());
    }

    public static void main(String[] args) {
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "20000");
        List<String> out = new ArrayList<>();
        boolean ok = true;
        try (Admin admin = Admin.create(props)) {
            try {
                DescribeClusterResult r = admin.describeCluster();
                Collection<Node> nodes = r.nodes().get();
                List<String> ns = new ArrayList<>();
                for (Node n : nodes) {
                    ns.add(node(n));
                }
                out.add("\"cluster_id\": " + quote(r.clusterId().get()));
                out.add("\"controller\": " + node(r.controller().get()));
                out.add("\"nodes\": [" + String.join(", ", ns) + "]");
            } catch (Exception e) {
                ok = false;
                out.add("\"describe_cluster_error\": " + error(e));
            }
            try {
                List<String> names = new ArrayList<>();
                for (String t : new TreeSet<>(admin.listTopics().names().get())) {
                    names.add(quote(t));
                }
                out.add("\"topics\": [" + String.join(", ", names) + "]");
            } catch (Exception e) {
                ok = false;
                out.add("\"list_topics_error\": " + error(e));
            }
            try {
                FeatureMetadata f = admin.describeFeatures().featureMetadata().get();
                List<String> sup = new ArrayList<>();
                for (Map.Entry<String, ?> e : f.supportedFeatures().entrySet()) {
                    sup.add(quote(e.getKey()));
                }
                out.add("\"supported_features\": [" + String.join(", ", sup) + "]");
            } catch (Exception e) {
                ok = false;
                out.add("\"describe_features_error\": " + error(e));
            }
        }
        System.out.println("{" + String.join(", ", out) + "}");
        System.exit(ok ? 0 : 1);
    }
}
