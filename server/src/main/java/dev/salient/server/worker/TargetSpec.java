package dev.salient.server.worker;

import dev.salient.server.engine.ModelPackage;
import dev.salient.server.engine.Ranking;
import dev.salient.server.util.SalientException;

/** Which class a request explains, as the client said it. */
public sealed interface TargetSpec {

  /** The predicted class. */
  record Predicted() implements TargetSpec {}

  /** A class by index. */
  record ClassIndex(int index) implements TargetSpec {}

  /** A class by label. */
  record Label(String label) implements TargetSpec {}

  /** The class ranked {@code rank} in the prediction (1 = predicted). */
  record Rank(int rank) implements TargetSpec {}

  /**
   * Checks the target against {@code model} before any model work.
   *
   * @throws SalientException.InvalidArgument naming the valid range or labels
   */
  default void validate(ModelPackage model) {
    int classes = model.numClasses();
    if (this instanceof ClassIndex c && (c.index() < 0 || c.index() >= classes)) {
      throw new SalientException.InvalidArgument("target class index " + c.index()
          + " is out of range: model " + model.name() + " has classes 0.." + (classes - 1));
    }
    if (this instanceof Label l && !model.labels().contains(l.label())) {
      throw new SalientException.InvalidArgument("target label \"" + l.label()
          + "\" is not a class of model " + model.name() + "; its labels are " + model.labels());
    }
    if (this instanceof Rank r && (r.rank() < 1 || r.rank() > classes)) {
      throw new SalientException.InvalidArgument("target rank " + r.rank()
          + " is out of range: model " + model.name() + " ranks 1.." + classes);
    }
  }

  /** The rank this target names (1 = predicted), or 0 when it names a class directly. */
  default int rank() {
    return this instanceof Rank r ? r.rank() : this instanceof Predicted ? 1 : 0;
  }

  /** The class index this target names, given the model's scores on the image. */
  default int resolve(ModelPackage model, float[] logits) {
    if (this instanceof ClassIndex c) {
      return c.index();
    }
    if (this instanceof Label l) {
      return model.labels().indexOf(l.label());
    }
    return Ranking.indexOfRank(logits, this instanceof Rank r ? r.rank() : 1);
  }
}
