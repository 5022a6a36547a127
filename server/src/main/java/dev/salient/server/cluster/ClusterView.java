package dev.salient.server.cluster;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.StreamSupport;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.Member;
import org.apache.pekko.cluster.typed.Cluster;

/**
 * The cluster as a gateway sees it, for Stats and Prometheus: the members with their roles,
 * status and reachability (from Pekko Cluster's own state), and the last load each worker node
 * reported. Safe to read from any thread.
 */
public final class ClusterView {
  private final ActorSystem<?> system;
  private final Map<String, WorkerNode.WorkerLoad> loads = new ConcurrentHashMap<>();

  /** The view of the cluster {@code system} is a node of. */
  public ClusterView(ActorSystem<?> system) {
    this.system = system;
  }

  void report(WorkerNode.WorkerLoad load) {
    loads.put(load.address(), load);
  }

  void forget(String address) {
    loads.remove(address);
  }

  /** A member of the cluster. */
  public record MemberView(String address, List<String> roles, String status,
      boolean reachable) {}

  /** The members now, by address. */
  public List<MemberView> members() {
    var state = Cluster.get(system).state();
    var unreachable = state.getUnreachable();
    List<MemberView> members = new ArrayList<>();
    for (Member m : StreamSupport.stream(state.getMembers().spliterator(), false).toList()) {
      members.add(new MemberView(m.address().toString(), m.getRoles().stream().sorted().toList(),
          m.status().toString(), !unreachable.contains(m)));
    }
    members.sort(Comparator.comparing(MemberView::address));
    return members;
  }

  /** The last load of each worker node that is still a member, by address. */
  public List<WorkerNode.WorkerLoad> workerNodes() {
    var addresses = members().stream().map(MemberView::address).toList();
    return loads.values().stream().filter(l -> addresses.contains(l.address()))
        .sorted(Comparator.comparing(WorkerNode.WorkerLoad::address)).toList();
  }

  /** This node's own address. */
  public String self() {
    return system.address().toString();
  }
}
