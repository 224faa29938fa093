"""Aim a cannon with gradients: a projectile with air drag, integrated step by step,
and Newton's method on the launch angle using srcad's derivative of the whole simulation.

Run it with:  python examples/projectile.py
"""

import math

import srcad

GRAVITY = 9.81


@srcad.differentiable
def landing_distance(angle, speed, drag):
    """Horizontal distance where the projectile lands (semi-implicit Euler, 1 ms steps)."""
    x = 0.0
    y = 0.0
    vx = speed * math.cos(angle)
    vy = speed * math.sin(angle)
    dt = 0.001
    steps = 0
    while y >= 0.0 and steps < 100000:
        v = math.sqrt(vx * vx + vy * vy)
        vx -= drag * v * vx * dt
        vy -= (GRAVITY + drag * v * vy) * dt
        x += vx * dt
        y_before = y
        y += vy * dt
        steps += 1
    # interpolate the crossing of y = 0 inside the last step, so the distance is smooth in the angle
    fraction = y_before / (y_before - y)
    return x - vx * dt * (1.0 - fraction)


def miss(angle, speed, drag, target):
    return landing_distance(angle, speed, drag) - target


distance_and_slope = srcad.value_and_grad(landing_distance, wrt=0)

target, speed, drag = 40.0, 30.0, 0.01
angle = 0.3
for iteration in range(8):
    distance, slope = distance_and_slope(angle, speed, drag)
    print(f"iteration {iteration}: angle {math.degrees(angle):7.3f} deg lands at {distance:8.3f} m")
    if abs(distance - target) < 1e-9:
        break
    angle -= (distance - target) / slope  # Newton's step on the miss distance

print(f"aim at {math.degrees(angle):.4f} degrees to hit {target} m")
print(srcad.check_grad(landing_distance, angle, speed, drag))
