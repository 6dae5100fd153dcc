"""Interstitial nodes folded into their edges: fewer nodes, the same streets.

OSM splits a way at every node, so most nodes of a street network only bend a street:
they have two edges, both of the same way. :func:`fold_chains` folds every such node into
one edge whose geometry passes through it, from junction to junction, as osmnx's
``simplify_graph`` does; the lengths, the geometry and so every walking time stay what they
were (a time along an edge is its length at the speed, the sum of its pieces'). A node is
kept where anything else meets or changes: three edges or one, two ways, a tagged incline
(its direction is per edge), or a node a caller protects (a signal, a crossing).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Folded:
    """Edges after folding: each from a kept node to a kept node through folded ones.

    Attributes
    ----------
    kept
        Per old node: whether it stays a node.
    u, v
        Per new edge: its ends (old node indices).
    first_edge
        Per new edge: the old edge it starts with (its tags hold for all of it).
    inner_offsets, inner_nodes
        The folded nodes of new edge ``i``, from ``u`` to ``v``, are
        ``inner_nodes[inner_offsets[i]:inner_offsets[i + 1]]``.
    edge_of_old
        Per old edge: the new edge it became part of.
    chain_offsets, chain_edges, chain_forward
        The old edges of new edge ``i``, in order from ``u`` to ``v``, are
        ``chain_edges[chain_offsets[i]:chain_offsets[i + 1]]``; ``chain_forward`` says
        whether each is walked from its ``u`` to its ``v``.
    """

    kept: np.ndarray
    u: np.ndarray
    v: np.ndarray
    first_edge: np.ndarray
    inner_offsets: np.ndarray
    inner_nodes: np.ndarray
    edge_of_old: np.ndarray
    chain_offsets: np.ndarray
    chain_edges: np.ndarray
    chain_forward: np.ndarray


def fold_chains(
    n_nodes: int,
    u: np.ndarray,
    v: np.ndarray,
    *,
    way: np.ndarray,
    foldable_edge: np.ndarray,
    protected: np.ndarray | None = None,
) -> Folded:
    """Fold the nodes with two edges of one way into those edges (see the module).

    Parameters
    ----------
    n_nodes
        Number of nodes.
    u, v
        Old edges' ends (node indices); no two edges join the same pair.
    way
        Per old edge: the way it belongs to (-1: unknown, never folded).
    foldable_edge
        Per old edge: whether it may be folded into another (no incline tag).
    protected
        Per node: kept whatever its edges (signals, crossings).
    """
    m = u.size
    degree = np.bincount(u, minlength=n_nodes) + np.bincount(v, minlength=n_nodes)
    # each node's edges, in CSR form
    ends = np.concatenate([u, v])
    edge_at = np.concatenate([np.arange(m), np.arange(m)])
    order = np.argsort(ends, kind="stable")
    indptr = np.zeros(n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(ends, minlength=n_nodes), out=indptr[1:])
    incident = edge_at[order]
    kept = degree != 2
    two = np.flatnonzero(~kept)
    e1, e2 = incident[indptr[two]], incident[indptr[two] + 1]
    foldable = (way[e1] == way[e2]) & (way[e1] >= 0) & foldable_edge[e1] & foldable_edge[e2]
    kept[two[~foldable]] = True
    if protected is not None:
        kept |= protected
    new_u: list[int] = []
    new_v: list[int] = []
    first: list[int] = []
    inner_counts: list[int] = []
    inner: list[int] = []
    chain: list[int] = []
    forward: list[bool] = []
    edge_of_old = np.full(m, -1, dtype=np.int64)

    def walk(start: int, edge: int) -> None:
        """Follow a chain from a kept node along ``edge`` to the next kept node."""
        new, begin = len(new_u), edge
        node, count = start, 0
        while True:
            edge_of_old[edge] = new
            chain.append(edge)
            forward.append(bool(u[edge] == node))
            node = int(v[edge]) if u[edge] == node else int(u[edge])
            if kept[node]:
                break
            inner.append(node)
            count += 1
            a, b = incident[indptr[node]], incident[indptr[node] + 1]
            edge = int(b) if a == edge else int(a)
        if count == 0:  # an edge left whole keeps its direction (an incline is along it)
            start, node = int(u[begin]), int(v[begin])
            forward[-1] = True
        new_u.append(start)
        new_v.append(node)
        inner_counts.append(count)
        first.append(begin)

    for k in np.flatnonzero(kept):
        for edge in incident[indptr[k] : indptr[k + 1]]:
            if edge_of_old[edge] < 0:
                walk(int(k), int(edge))
    # closed chains of folded nodes (a loop path on its own): keep its first node
    while (left := np.flatnonzero(edge_of_old < 0)).size:
        start = int(u[left[0]])
        kept[start] = True
        walk(start, int(left[0]))
    offsets = np.zeros(len(new_u) + 1, dtype=np.int64)
    np.cumsum(inner_counts, out=offsets[1:])
    return Folded(kept=kept, u=np.asarray(new_u, dtype=np.int64),
                  v=np.asarray(new_v, dtype=np.int64), first_edge=np.asarray(first, np.int64),
                  inner_offsets=offsets, inner_nodes=np.asarray(inner, dtype=np.int64),
                  edge_of_old=edge_of_old, chain_offsets=offsets + np.arange(offsets.size),
                  chain_edges=np.asarray(chain, dtype=np.int64),
                  chain_forward=np.asarray(forward, dtype=bool))  # fmt: skip
