"""Test doubles around executor backends."""


class PoseRecorder:
    """An executor backend in front of the simulated hand: where the hand really is after each move."""

    def __init__(self, hand):
        self.hand, self.reached = hand, {}

    def move(self, stage, pose):
        result = self.hand.move(stage, pose)
        self.reached[stage] = self.hand.pose()
        return result

    def grip(self, stage, width):
        return self.hand.grip(stage, width)
