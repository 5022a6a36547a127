package dev.salient.server.grpc;

import com.google.protobuf.ByteString;
import dev.salient.grpc.ClassScore;
import dev.salient.grpc.Curve;
import dev.salient.grpc.DropPolicy;
import dev.salient.grpc.DroppedFrame;
import dev.salient.grpc.ExplainEvent;
import dev.salient.grpc.ExplainedFrame;
import dev.salient.grpc.Frame;
import dev.salient.grpc.FrameExplanation;
import dev.salient.grpc.MethodInfo;
import dev.salient.grpc.ModelInfo;
import dev.salient.grpc.ParameterInfo;
import dev.salient.grpc.Provenance;
import dev.salient.grpc.Result;
import dev.salient.grpc.SaliencyMap;
import dev.salient.grpc.Snapshot;
import dev.salient.grpc.Started;
import dev.salient.grpc.Target;
import dev.salient.grpc.Tensor;
import dev.salient.server.cluster.ClusterView;
import dev.salient.server.cluster.WorkerNode;
import dev.salient.server.engine.InputSpec;
import dev.salient.server.engine.ModelContentHash;
import dev.salient.server.engine.ModelPackage;
import dev.salient.server.engine.Preprocessing;
import dev.salient.server.explanation.ExplainEvent.FloatTensor;
import dev.salient.server.method.ExplanationMethod;
import dev.salient.server.method.Parameter;
import dev.salient.server.method.ResultSchema;
import dev.salient.server.util.SalientException;
import dev.salient.server.video.FrameAnswer;
import dev.salient.server.video.VideoSettings;
import dev.salient.server.worker.SchedulerMetrics;
import dev.salient.server.worker.TargetSpec;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Locale;

/** Translates between the salient.v1 messages and the server's domain values. No logic. */
final class ProtoMapping {
  private ProtoMapping() {}

  static ModelInfo modelInfo(ModelPackage m, List<ExplanationMethod> methods, boolean isDefault) {
    InputSpec in = m.input();
    ModelInfo.Builder b = ModelInfo.newBuilder()
        .setName(m.name())
        .setDescription(m.description())
        .setFormat(m.format().name().toLowerCase(Locale.ROOT))
        .setPixelMin(in.pixelMin())
        .setPixelMax(in.pixelMax())
        .addAllLabels(m.labels())
        .putAllMetrics(m.metrics())
        .setIsDefault(isDefault)
        .setContentSha256(ModelContentHash.of(m))
        .setPreprocessing(preprocessing(in.preprocessing()));
    for (long d : in.shape()) {
      b.addInputShape(d);
    }
    for (float v : in.mean()) {
      b.addMean(v);
    }
    for (float v : in.std()) {
      b.addStd(v);
    }
    for (ExplanationMethod method : methods) {
      MethodInfo.Builder mi = MethodInfo.newBuilder()
          .setName(method.name()).setDescription(method.description())
          .setLiveVideo(method.explainsVideo())
          .setFamily(MethodInfo.Family.valueOf(method.family().name()));
      for (Parameter<?> p : method.parameters()) {
        mi.addParameters(parameterInfo(p));
      }
      if (method.resultSchema() != null) {
        mi.setResult(resultSchema(method.resultSchema()));
      }
      b.addMethods(mi);
    }
    return b.build();
  }

  static dev.salient.grpc.ResultSchema resultSchema(ResultSchema schema) {
    var b = dev.salient.grpc.ResultSchema.newBuilder();
    schema.values().forEach(f -> b.addValues(resultField(f)));
    schema.maps().forEach(f -> b.addMaps(resultField(f)));
    return b.build();
  }

  private static dev.salient.grpc.ResultField resultField(ResultSchema.Field f) {
    return dev.salient.grpc.ResultField.newBuilder().setName(f.name()).setType(f.type())
        .setShape(f.shape()).setMeaning(f.meaning()).setWhen(f.when())
        .setColourScale(f.colourScale() == null ? ""
            : f.colourScale().name().toLowerCase(Locale.ROOT))
        .build();
  }

  static dev.salient.grpc.Preprocessing preprocessing(Preprocessing p) {
    return dev.salient.grpc.Preprocessing.newBuilder()
        .setResize(p.resize().manifestName())
        .setResizeShortSide(p.resizeShortSide())
        .setCrop(p.crop().manifestName())
        .setColorManagement(p.colorManagement().manifestName())
        .build();
  }

  static ParameterInfo parameterInfo(Parameter<?> p) {
    return ParameterInfo.newBuilder().setName(p.name()).setDescription(p.description())
        .setDefaultValue(p.defaultText())
        .setKind(ParameterInfo.Kind.valueOf(p.kind().name()))
        .setAccepted(p.accepted()).setMin(p.min()).setMax(p.max())
        .addAllChoices(p.choices())
        .build();
  }

  static dev.salient.grpc.StatsResponse stats(SchedulerMetrics.Snapshot s) {
    var b = dev.salient.grpc.StatsResponse.newBuilder()
        .setAdmitted(s.admitted()).setRejected(s.rejected()).setCompleted(s.completed())
        .setCancelled(s.cancelled()).setDeadlineExceeded(s.deadlineExceeded())
        .setFailed(s.failed());
    for (SchedulerMetrics.WorkerSnapshot w : s.workers()) {
      b.addWorkers(worker(w));
    }
    b.setVideo(dev.salient.grpc.VideoStats.newBuilder()
        .setSessionsOpened(s.video().sessionsOpened()).setSessionsActive(s.video().sessionsActive())
        .setFramesExplained(s.video().framesExplained())
        .setFramesSuperseded(s.video().framesSuperseded())
        .setFramesServerBusy(s.video().framesServerBusy()));
    for (SchedulerMetrics.ModelSnapshot m : s.models()) {
      b.addModels(dev.salient.grpc.ModelStats.newBuilder().setModel(m.name())
          .setEngineCalls(m.engineCalls()).setImages(m.images())
          .setQueueWaitP50Ms(m.queueWaitP50Millis()).setQueueWaitP99Ms(m.queueWaitP99Millis())
          .setPassMeanMs(m.passMeanMillis()).setPassP99Ms(m.passP99Millis())
          .setEngineShare(m.engineShare()));
    }
    return b.build();
  }

  private static dev.salient.grpc.WorkerStats worker(SchedulerMetrics.WorkerSnapshot w) {
    var wb = dev.salient.grpc.WorkerStats.newBuilder()
        .setName(w.name()).setDevice(w.device()).setActiveJobs(w.activeJobs())
        .setQueueDepth(w.queueDepth()).setEngineCalls(w.engineCalls()).setImages(w.images())
        .setPassMeanMs(w.passMeanMillis()).setPassP50Ms(w.passP50Millis())
        .setPassP99Ms(w.passP99Millis()).setRestarts(w.restarts());
    for (long c : w.batchSizeCounts()) {
      wb.addBatchSizeCounts(c);
    }
    return wb.build();
  }

  static dev.salient.grpc.ClusterStats cluster(ClusterView view) {
    var b = dev.salient.grpc.ClusterStats.newBuilder().setSelf(view.self());
    for (ClusterView.MemberView m : view.members()) {
      b.addMembers(dev.salient.grpc.ClusterMember.newBuilder().setAddress(m.address())
          .addAllRoles(m.roles()).setStatus(m.status()).setReachable(m.reachable()));
    }
    for (WorkerNode.WorkerLoad load : view.workerNodes()) {
      var nb = dev.salient.grpc.WorkerNodeStats.newBuilder().setAddress(load.address())
          .addAllModels(load.models()).setDraining(load.draining());
      load.workers().forEach(w -> nb.addWorkers(worker(w)));
      b.addWorkerNodes(nb);
    }
    return b.build();
  }

  static TargetSpec target(boolean hasTarget, Target t) {
    if (!hasTarget) {
      return new TargetSpec.Predicted();
    }
    return switch (t.getKindCase()) {
      case CLASS_INDEX -> new TargetSpec.ClassIndex(t.getClassIndex());
      case LABEL -> new TargetSpec.Label(t.getLabel());
      case RANK -> new TargetSpec.Rank(t.getRank());
      case KIND_NOT_SET -> new TargetSpec.Predicted();
    };
  }

  static Provenance provenance(dev.salient.server.explanation.ExplainEvent.Provenance p) {
    return Provenance.newBuilder()
        .setModel(p.model()).setModelSha256(p.modelSha256()).setMethod(p.method())
        .putAllParams(p.parameters()).setTargetClass(p.targetClass())
        .setServerVersion(p.serverVersion()).setDeterministic(p.deterministic())
        .build();
  }

  /** The event on the wire; the result's snapshots only when {@code withSnapshots}. */
  static ExplainEvent event(dev.salient.server.explanation.ExplainEvent e, boolean withSnapshots) {
    if (e instanceof dev.salient.server.explanation.ExplainEvent.Started s) {
      Started.Builder b = Started.newBuilder()
          .setRequestId(s.requestId()).setModel(s.model()).setMethod(s.method())
          .setPredicted(score(s.predicted())).setTarget(score(s.target()))
          .putAllParams(s.parameters());
      s.top().forEach(c -> b.addTop(score(c)));
      for (long d : s.inputShape()) {
        b.addInputShape(d);
      }
      return ExplainEvent.newBuilder().setStarted(b).build();
    }
    if (e instanceof dev.salient.server.explanation.ExplainEvent.Frame f) {
      Frame.Builder b = Frame.newBuilder()
          .setStep(f.step()).setPhase(f.phase()).setTargetProbability(f.targetProbability())
          .putAllValues(f.values()).setPasses(f.passes());
      f.top().forEach(c -> b.addTop(score(c)));
      if (f.image() != null) {
        b.setImage(tensor(f.image()));
      }
      if (f.map() != null) {
        b.setMap(tensor(f.map()));
      }
      return ExplainEvent.newBuilder().setFrame(b).build();
    }
    var r = (dev.salient.server.explanation.ExplainEvent.Result) e;
    Result.Builder b = Result.newBuilder()
        .putAllValues(r.values()).setSteps(r.steps()).setPasses(r.passes())
        .setElapsedMs(r.elapsedMillis());
    r.maps().forEach(m -> b.addMaps(map(m)));
    if (r.provenance() != null) {
      b.setProvenance(provenance(r.provenance()));
    }
    for (var c : r.curves()) {
      Curve.Builder cb = Curve.newBuilder()
          .setName(c.name()).setXLabel(c.xLabel()).setYLabel(c.yLabel());
      for (double x : c.x()) {
        cb.addX(x);
      }
      for (double y : c.y()) {
        cb.addY(y);
      }
      b.addCurves(cb);
    }
    for (var s : withSnapshots ? r.snapshots()
        : List.<dev.salient.server.explanation.ExplainEvent.Snapshot>of()) {
      Snapshot.Builder sb = Snapshot.newBuilder()
          .setLabel(s.label()).setStep(s.step()).putAllValues(s.values());
      s.maps().forEach(m -> sb.addMaps(map(m)));
      b.addSnapshots(sb);
    }
    return ExplainEvent.newBuilder().setResult(b).build();
  }

  static FrameExplanation frameExplanation(FrameAnswer a) {
    FrameExplanation.Builder b = FrameExplanation.newBuilder()
        .setSequence(a.sequence()).setCaptureTimeUs(a.captureTimeUs())
        .setServerLatencyUs(a.serverLatencyNanos() / 1000);
    if (a.outcome() instanceof FrameAnswer.Explained x) {
      ExplainedFrame.Builder e = ExplainedFrame.newBuilder()
          .setPredicted(score(x.predicted())).setTarget(score(x.target()))
          .putAllValues(x.values());
      x.top().forEach(c -> e.addTop(score(c)));
      x.maps().forEach(m -> e.addMaps(map(m)));
      b.setExplained(e);
    } else {
      var d = (FrameAnswer.Dropped) a.outcome();
      b.setDropped(DroppedFrame.newBuilder().setReason(d.reason()).setDetail(d.detail()));
    }
    return b.build();
  }

  static VideoSettings.DropPolicy dropPolicy(DropPolicy p) {
    return switch (p) {
      case LATEST_FRAME_WINS -> VideoSettings.DropPolicy.LATEST_FRAME_WINS;
      case NEVER_DROP -> VideoSettings.DropPolicy.NEVER_DROP;
      case UNRECOGNIZED -> throw new SalientException.InvalidArgument(
          "drop_policy is not one this server knows: use LATEST_FRAME_WINS or NEVER_DROP");
    };
  }

  private static SaliencyMap map(dev.salient.server.explanation.ExplainEvent.SaliencyMap m) {
    SaliencyMap.Builder b = SaliencyMap.newBuilder()
        .setName(m.name()).setTensor(tensor(m.tensor()))
        .setColourScale(m.colourScale().name().toLowerCase(Locale.ROOT));
    if (m.overlayPng() != null) {
      b.setOverlayPng(ByteString.copyFrom(m.overlayPng()));
    }
    if (m.figurePng() != null) {
      b.setFigurePng(ByteString.copyFrom(m.figurePng()));
    }
    return b.build();
  }

  static ClassScore score(dev.salient.server.explanation.ExplainEvent.ClassScore c) {
    return ClassScore.newBuilder().setIndex(c.index()).setLabel(c.label())
        .setProbability(c.probability()).setLogit(c.logit()).build();
  }

  static Tensor tensor(FloatTensor t) {
    ByteBuffer buf = ByteBuffer.allocate(t.data().length * 4).order(ByteOrder.LITTLE_ENDIAN);
    buf.asFloatBuffer().put(t.data());
    Tensor.Builder b = Tensor.newBuilder().setData(ByteString.copyFrom(buf.array()));
    for (long d : t.shape()) {
      b.addShape(d);
    }
    return b.build();
  }

  static int positiveOrDefault(int value, int defaultValue, String field, int max) {
    if (value < 0 || value > max) {
      throw new SalientException.InvalidArgument(
          field + " must be between 0 and " + max + " (0 means " + defaultValue + "), got " + value);
    }
    return value == 0 ? defaultValue : value;
  }
}
