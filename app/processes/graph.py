"""Pure graph checks over a process's steps (by key): cycles, reachability, the longest path.

Kept free of the database so the rules can be tested and reused on unsaved drafts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

Edges = Mapping[str, list[str]]


def adjacency(keys: Iterable[str], links: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    graph: dict[str, list[str]] = {key: [] for key in keys}
    for source, target in links:
        if source in graph and target in graph and target not in graph[source]:
            graph[source].append(target)
    return graph


def find_cycle(graph: Edges) -> list[str] | None:
    """One cycle as a list of keys (first key repeated at the end), or None for a DAG."""
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(graph, white)
    for root in graph:
        if colour[root] != white:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = [root]
        colour[root] = grey
        while stack:
            node, index = stack[-1]
            children = graph[node]
            if index < len(children):
                stack[-1] = (node, index + 1)
                child = children[index]
                if colour[child] == grey:
                    return [*path[path.index(child) :], child]
                if colour[child] == white:
                    colour[child] = grey
                    stack.append((child, 0))
                    path.append(child)
            else:
                colour[node] = black
                stack.pop()
                path.pop()
    return None


def reachable(graph: Edges, start: str) -> set[str]:
    seen = {start}
    todo = [start]
    while todo:
        for child in graph[todo.pop()]:
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


def longest_path(
    graph: Edges, start: str, ends: set[str], weight: Mapping[str, Decimal]
) -> tuple[Decimal, list[str]] | None:
    """The heaviest path from ``start`` to any key in ``ends`` in a DAG, and its weight.

    The weight counts every step on the path except the end step itself: the legal
    clock stops when the result is ready (status 9), before it is handed back.
    None when no end is reachable. The graph must be acyclic.
    """
    best: dict[str, tuple[Decimal, list[str]] | None] = {}

    def visit(node: str) -> tuple[Decimal, list[str]] | None:
        # Iterative post-order would be longer; processes have tens of steps, recursion is fine.
        if node in best:
            return best[node]
        if node in ends:
            best[node] = (Decimal(0), [node])
            return best[node]
        candidates = [found for child in graph[node] if (found := visit(child)) is not None]
        if not candidates:
            best[node] = None
            return None
        hours, path = max(candidates, key=lambda c: c[0])
        best[node] = (hours + weight[node], [node, *path])
        return best[node]

    return visit(start)
