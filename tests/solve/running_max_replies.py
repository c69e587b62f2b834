"""The running_max problem and model replies the stub-server solve tests share."""

RIGHT = "```python\ndef running_max(numbers):\n    out, best = [], None\n    for x in numbers:\n        best = x if best is None else max(best, x)\n        out.append(best)\n    return out\n```"
# agrees with RIGHT on the docstring example, but looks back only 3 elements
WRONG = "```python\ndef running_max(numbers):\n    return [max(numbers[max(0, i - 2): i + 1]) for i in range(len(numbers))]\n```"
CRASH = "```python\ndef running_max(numbers):\n    return numbers[0]\n```"

PROBLEM = '''def running_max(numbers: list[int]) -> list[int]:
    """Return a list whose i-th element is the largest of numbers[0..i].

    >>> running_max([1, 3, 2, 5, 4])
    [1, 3, 3, 5, 5]
    """
'''
