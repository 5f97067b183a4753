"""PyBullet judges: a clutter world, a kinematically moved Franka hand, and the VGN clutter-removal loop."""
