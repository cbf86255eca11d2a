"""Homework: one module of stubs per chapter, graded by :func:`creditlab.check`.

Write your function in a notebook (or edit the stub) and grade it::

    import creditlab
    def discounted_returns(rewards, gamma):
        ...
    creditlab.check("ch01.discounted_returns", discounted_returns)

``creditlab.check("ch01.discounted_returns")`` without a function grades the stub in
``creditlab.exercises.ch01``. Checks compare against stored answers
(``exercises/data/chNN.npz``) and invariants on seeded inputs; they never import the
solutions, so instructors may delete ``creditlab/solutions``.
"""
