"""GradBench's ``kmeans`` eval: the k-means cost (each point's squared distance to its nearest
centroid, summed), and Newton's direction for the centroids: the gradient divided by the Hessian
times a vector of ones (forward mode over srcad's gradient)."""

import numpy as np

import srcad


@srcad.differentiable
def cost(points, centroids):
    total = 0.0
    for i in range(points.shape[0]):
        nearest = np.inf
        for c in range(centroids.shape[0]):
            distance = 0.0
            for j in range(points.shape[1]):
                difference = points[i, j] - centroids[c, j]
                distance += difference * difference
            if distance < nearest:
                nearest = distance
        total += nearest
    return total


gradient = srcad.grad(cost, wrt=1)


def direction(points, centroids):
    slope, curvature = srcad.jvp(gradient, (points, centroids), (None, np.ones_like(centroids)))
    return slope / curvature


def prepare(input):
    return np.array(input["points"], dtype=np.float64), np.array(input["centroids"], dtype=np.float64)


def compile():
    points, centroids = np.array([[0.0, 1.0], [2.0, 0.5]]), np.array([[0.1, 0.9], [1.8, 0.4]])
    cost(points, centroids)
    direction(points, centroids)


FUNCTIONS = {"cost": (cost, float), "dir": (direction, lambda d: d.tolist())}
