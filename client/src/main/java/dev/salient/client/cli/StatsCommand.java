package dev.salient.client.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.salient.grpc.ModelStats;
import dev.salient.grpc.ClusterMember;
import dev.salient.grpc.ClusterStats;
import dev.salient.grpc.StatsResponse;
import dev.salient.grpc.VideoStats;
import dev.salient.grpc.WorkerNodeStats;
import dev.salient.grpc.WorkerStats;
import java.io.PrintWriter;
import java.util.Locale;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code salient stats}: the server's scheduler counters, per-worker batching and per-model
 * queue wait, pass time and share of engine time.
 */
@Command(name = "stats", description = "Show the server's request counters and batching.")
final class StatsCommand extends ClientCommand {

  @Option(names = "--json", description = "One JSON object on stdout.")
  boolean json;

  @Override
  void prepare() {}

  @Override
  void run(ClientSession session, PrintWriter out, PrintWriter err) {
    StatsResponse s = session.await(session.client().stats());
    if (json) {
      out.println(json(s));
      return;
    }
    out.printf(Locale.ROOT, "requests   admitted %d, rejected %d, completed %d, cancelled %d,"
            + " deadline exceeded %d, failed %d%n", s.getAdmitted(), s.getRejected(),
        s.getCompleted(), s.getCancelled(), s.getDeadlineExceeded(), s.getFailed());
    for (WorkerStats w : s.getWorkersList()) {
      double meanBatch = w.getEngineCalls() == 0 ? 0 : w.getImages() / (double) w.getEngineCalls();
      out.printf(Locale.ROOT, "worker     %s (%s): %d active, %d queued, %d engine calls, "
              + "%d images (mean batch %.2f), pass %.2f ms mean / %.2f p50 / %.2f p99, "
              + "%d restarts%n", w.getName(), w.getDevice(), w.getActiveJobs(),
          w.getQueueDepth(), w.getEngineCalls(), w.getImages(), meanBatch, w.getPassMeanMs(),
          w.getPassP50Ms(), w.getPassP99Ms(), w.getRestarts());
    }
    for (ModelStats m : s.getModelsList()) {
      out.printf(Locale.ROOT, "model      %s: %d engine calls, %d images, queue wait %.2f ms p50 "
              + "/ %.2f p99, pass %.2f ms mean / %.2f p99, %.1f %% of engine time%n",
          m.getModel(), m.getEngineCalls(), m.getImages(), m.getQueueWaitP50Ms(),
          m.getQueueWaitP99Ms(), m.getPassMeanMs(), m.getPassP99Ms(), 100 * m.getEngineShare());
    }
    VideoStats v = s.getVideo();
    out.printf(Locale.ROOT, "video      %d sessions (%d open), frames: %d explained, %d superseded,"
            + " %d refused (server busy)%n", v.getSessionsOpened(), v.getSessionsActive(),
        v.getFramesExplained(), v.getFramesSuperseded(), v.getFramesServerBusy());
    if (s.hasCluster()) {
      ClusterStats c = s.getCluster();
      for (ClusterMember m : c.getMembersList()) {
        out.printf(Locale.ROOT, "member     %s %s %s%s%s%n", m.getAddress(), m.getRolesList(),
            m.getStatus(), m.getReachable() ? "" : " UNREACHABLE",
            m.getAddress().equals(c.getSelf()) ? " (this gateway)" : "");
      }
      for (WorkerNodeStats n : c.getWorkerNodesList()) {
        for (WorkerStats w : n.getWorkersList()) {
          out.printf(Locale.ROOT, "node       %s %s: %d active, %d engine calls, %d images%s%n",
              n.getAddress(), w.getName(), w.getActiveJobs(), w.getEngineCalls(), w.getImages(),
              n.getDraining() ? ", draining" : "");
        }
      }
    }
  }

  private static String json(StatsResponse s) {
    ObjectMapper mapper = new ObjectMapper();
    ObjectNode root = mapper.createObjectNode()
        .put("admitted", s.getAdmitted()).put("rejected", s.getRejected())
        .put("completed", s.getCompleted()).put("cancelled", s.getCancelled())
        .put("deadline_exceeded", s.getDeadlineExceeded()).put("failed", s.getFailed());
    var workers = root.putArray("workers");
    for (WorkerStats w : s.getWorkersList()) {
      ObjectNode n = workers.addObject()
          .put("name", w.getName()).put("device", w.getDevice())
          .put("active_jobs", w.getActiveJobs()).put("queue_depth", w.getQueueDepth())
          .put("engine_calls", w.getEngineCalls()).put("images", w.getImages())
          .put("pass_mean_ms", w.getPassMeanMs()).put("pass_p50_ms", w.getPassP50Ms())
          .put("pass_p99_ms", w.getPassP99Ms()).put("restarts", w.getRestarts());
      var sizes = n.putArray("batch_size_counts");
      w.getBatchSizeCountsList().forEach(sizes::add);
    }
    var models = root.putArray("models");
    for (ModelStats m : s.getModelsList()) {
      models.addObject().put("model", m.getModel()).put("engine_calls", m.getEngineCalls())
          .put("images", m.getImages()).put("queue_wait_p50_ms", m.getQueueWaitP50Ms())
          .put("queue_wait_p99_ms", m.getQueueWaitP99Ms()).put("pass_mean_ms", m.getPassMeanMs())
          .put("pass_p99_ms", m.getPassP99Ms()).put("engine_share", m.getEngineShare());
    }
    VideoStats v = s.getVideo();
    root.putObject("video").put("sessions_opened", v.getSessionsOpened())
        .put("sessions_active", v.getSessionsActive())
        .put("frames_explained", v.getFramesExplained())
        .put("frames_superseded", v.getFramesSuperseded())
        .put("frames_server_busy", v.getFramesServerBusy());
    if (s.hasCluster()) {
      ObjectNode cluster = root.putObject("cluster").put("self", s.getCluster().getSelf());
      var members = cluster.putArray("members");
      for (ClusterMember m : s.getCluster().getMembersList()) {
        ObjectNode n = members.addObject().put("address", m.getAddress())
            .put("status", m.getStatus()).put("reachable", m.getReachable());
        m.getRolesList().forEach(n.putArray("roles")::add);
      }
      var nodes = cluster.putArray("worker_nodes");
      for (WorkerNodeStats node : s.getCluster().getWorkerNodesList()) {
        ObjectNode n = nodes.addObject().put("address", node.getAddress())
            .put("draining", node.getDraining());
        node.getModelsList().forEach(n.putArray("models")::add);
        var ws = n.putArray("workers");
        for (WorkerStats w : node.getWorkersList()) {
          ws.addObject().put("name", w.getName()).put("active_jobs", w.getActiveJobs())
              .put("engine_calls", w.getEngineCalls()).put("images", w.getImages());
        }
      }
    }
    return root.toString();
  }
}
