package dev.salient.server.method;

/**
 * What a method's explanation is made of, so that clients can draw any method of a family
 * without knowing its name.
 */
public enum MethodFamily {
  /**
   * Saliency maps from gradients, activations or perturbations (the black-box methods): the
   * result's maps are the explanation.
   */
  GRADIENT,
  /**
   * An adversarial example: the result carries the maps {@code adversarial}, {@code difference}
   * and {@code importance} (and {@code adversarial_<class>} per competitor when asked), each
   * frame the candidate image and its difference from the original.
   */
  ADVERSARIAL,
  /**
   * A saliency trajectory: frames carry the image and map at each level of the trajectory, the
   * result the snapshots and the target probability along it.
   */
  NONLINEAR
}
