"""GradBench's ``ba`` eval (ADBench's bundle adjustment): the reprojection errors of ``p``
observations of ``m`` points by ``n`` cameras, and their Jacobian, sparse: each observation's two
errors depend on its camera's 11 parameters, its point's 3 coordinates and its weight.

A camera is [r1 r2 r3 C1 C2 C3 f u0 v0 k1 k2]: an angle-axis rotation (Rodrigues), a centre, a
focal length, a principal point and two radial distortion parameters. An observation's error is
its weight times the distance from its feature to the point's projection; each weight adds the
error 1 - w^2. The Jacobian's blocks are srcad gradients, one per error, computed inside a compiled
loop over the observations.

The input holds one camera, one point, one weight and one feature, repeated (observation i sees
point i mod m from camera i mod n), and the output is the start and end of the results, as
GradBench's reference implementation writes them."""

import math

import numpy as np

import srcad

CAMERA = 11  # parameters per camera
BLOCK = CAMERA + 3 + 1  # the columns one error depends on: its camera, its point, its weight


def rotated(r0, r1, r2, x, y, z):
    """(x, y, z) turned by the angle-axis rotation (r0, r1, r2) (Rodrigues' formula; to first order
    at no rotation)."""
    angle_squared = r0 * r0 + r1 * r1 + r2 * r2
    if angle_squared != 0.0:
        angle = math.sqrt(angle_squared)
        cosine, sine = math.cos(angle), math.sin(angle)
        w0, w1, w2 = r0 / angle, r1 / angle, r2 / angle
        along = (w0 * x + w1 * y + w2 * z) * (1.0 - cosine)
        return (x * cosine + (w1 * z - w2 * y) * sine + w0 * along,
                y * cosine + (w2 * x - w0 * z) * sine + w1 * along,
                z * cosine + (w0 * y - w1 * x) * sine + w2 * along)
    return x + r1 * z - r2 * y, y + r2 * x - r0 * z, z + r0 * y - r1 * x


def projected(camera, point):
    """Where ``camera`` sees ``point``, in pixels, radial distortion included."""
    x, y, z = rotated(camera[0], camera[1], camera[2], point[0] - camera[3], point[1] - camera[4], point[2] - camera[5])
    u = x / z
    v = y / z
    radius_squared = u * u + v * v
    distortion = 1.0 + camera[9] * radius_squared + camera[10] * radius_squared * radius_squared
    return u * distortion * camera[6] + camera[7], v * distortion * camera[6] + camera[8]


def error_x(camera, point, weight, feature):
    u, v = projected(camera, point)
    return weight * (u - feature[0])


def error_y(camera, point, weight, feature):
    u, v = projected(camera, point)
    return weight * (v - feature[1])


@srcad.differentiable
def objective(cameras, points, weights, observations, features, reprojection, weight_errors):
    """The errors, written into ``reprojection`` (p x 2) and ``weight_errors`` (p)."""
    for i in range(observations.shape[0]):
        camera = cameras[observations[i, 0]]
        point = points[observations[i, 1]]
        u, v = projected(camera, point)
        reprojection[i, 0] = weights[i] * (u - features[i, 0])
        reprojection[i, 1] = weights[i] * (v - features[i, 1])
        weight_errors[i] = 1.0 - weights[i] * weights[i]
    return 0.0


@srcad.differentiable
def jacobian_blocks(cameras, points, weights, observations, features, blocks, weight_slopes):
    """Each observation's two rows of the Jacobian (``blocks``: p x 2 x 15, its camera's columns,
    its point's, its weight's), and each weight error's derivative (``weight_slopes``)."""
    for i in range(observations.shape[0]):
        camera = cameras[observations[i, 0]]
        point = points[observations[i, 1]]
        d_camera, d_point, d_weight = srcad.grad(error_x, wrt=(0, 1, 2))(camera, point, weights[i], features[i])
        blocks[i, 0, 0:11] = d_camera
        blocks[i, 0, 11:14] = d_point
        blocks[i, 0, 14] = d_weight
        d_camera, d_point, d_weight = srcad.grad(error_y, wrt=(0, 1, 2))(camera, point, weights[i], features[i])
        blocks[i, 1, 0:11] = d_camera
        blocks[i, 1, 11:14] = d_point
        blocks[i, 1, 14] = d_weight
        weight_slopes[i] = -2.0 * weights[i]
    return 0.0


class Problem:
    """A bundle adjustment problem as GradBench's reference builds it from the input's one camera,
    point, weight and feature."""

    def __init__(self, input):
        self.n, self.m, self.p = int(input["n"]), int(input["m"]), int(input["p"])
        self.cameras = np.tile(np.array(input["cam"], dtype=np.float64), (self.n, 1))
        self.points = np.tile(np.array(input["x"], dtype=np.float64), (self.m, 1))
        self.weights = np.full(self.p, float(input["w"]))
        self.features = np.tile(np.array(input["feat"], dtype=np.float64), (self.p, 1))
        seen = np.arange(self.p)
        self.observations = np.stack([seen % self.n, seen % self.m], axis=1)

    def arrays(self):
        return self.cameras, self.points, self.weights, self.observations, self.features


def errors(problem):
    reprojection, weight_errors = np.empty((problem.p, 2)), np.empty(problem.p)
    objective(*problem.arrays(), reprojection, weight_errors)
    return reprojection, weight_errors


def jacobian(problem):
    blocks, weight_slopes = np.empty((problem.p, 2, BLOCK)), np.empty(problem.p)
    jacobian_blocks(*problem.arrays(), blocks, weight_slopes)
    return problem, blocks, weight_slopes


def errors_output(result):
    reprojection, weight_errors = result
    return {"reproj_error": {"elements": reprojection[0].tolist(), "repeated": len(reprojection)},
            "w_err": {"element": float(weight_errors[0]), "repeated": len(weight_errors)}}


def jacobian_output(result):
    """The sparse Jacobian as GradBench's reference writes it: its first 30 row starts, columns and
    values (the first observation's two rows), and the last of each (the last weight's)."""
    problem, blocks, weight_slopes = result
    p, n, m = problem.p, problem.n, problem.m
    rows = [BLOCK * k for k in range(2 * BLOCK)] + [2 * BLOCK * p + p]
    camera, point = (int(k) for k in problem.observations[0])
    columns = [CAMERA * camera + j for j in range(CAMERA)] + [CAMERA * n + 3 * point + j for j in range(3)]
    columns.append(CAMERA * n + 3 * m)  # the first weight
    return {"rows": rows, "cols": columns + columns + [CAMERA * n + 3 * m + p - 1],
            "vals": blocks[0, 0].tolist() + blocks[0, 1].tolist() + [float(weight_slopes[-1])]}


def prepare(input):
    return (Problem(input),)


def compile():
    problem = Problem({"n": 2, "m": 3, "p": 4, "cam": [0.1] * CAMERA, "x": [0.3, 0.2, 5.0], "w": 0.9,
                       "feat": [0.4, 0.6]})
    errors(problem)
    jacobian(problem)


FUNCTIONS = {"objective": (errors, errors_output), "jacobian": (jacobian, jacobian_output)}
