"""The emulator's shape, checked from its source: no import cycle anywhere, and each product package imports only
``core``, the platform modules and itself, so a product can be read, changed or removed on its own.

Layers (see README.md, "Layout"):
* ``core/`` and the platform modules at the top (context, state, tokens, errors, ...) import no product;
* a product package (every other sub-package: identity, defender_xdr, defender_endpoint, ...) imports ``core``, the
  platform and itself;
* the assembly modules (``server``, ``products``, ``admin``, ``cli``...) may import anything.

Imports inside functions count (they still form cycles when they run); imports under ``if TYPE_CHECKING:`` do not
(they never run)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = 'microsoft_emulator'
ROOT = Path(__file__).resolve().parents[1]
NOT_PRODUCTS = {'core', 'tests', 'seed'}
ASSEMBLY = {'server', 'products', 'admin', 'cli', '__main__', 'pytest_plugin', 'testing', '__init__'}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix('').parts)
    if parts[-1] == '__init__':
        parts = parts[:-1]
    return '.'.join([PACKAGE, *parts])


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == 'TYPE_CHECKING') or (
        isinstance(test, ast.Attribute) and test.attr == 'TYPE_CHECKING')


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)
    visit(tree)
    return found


def _graph() -> dict[str, set[str]]:
    """module -> the emulator modules it imports (a ``from pkg import name`` counts ``pkg.name`` when that is a
    module, else ``pkg``)."""
    files = {_module_name(p): p for p in ROOT.rglob('*.py') if 'tests' not in p.relative_to(ROOT).parts}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        is_package = path.name == '__init__.py'
        here = name.split('.') if is_package else name.split('.')[:-1]
        targets: set[str] = set()
        for node in _imports(ast.parse(path.read_text(encoding='utf-8'))):
            if isinstance(node, ast.Import):
                bases = [alias.name for alias in node.names]
                names: list[str] = []
            else:
                if node.level:
                    anchor = here[:len(here) - node.level + 1]
                    base = '.'.join([*anchor, node.module] if node.module else anchor)
                else:
                    base = node.module or ''
                bases = [base]
                names = [alias.name for alias in node.names]
            for base in bases:
                if not base.startswith(PACKAGE):
                    continue
                submodules = [f'{base}.{n}' for n in names if f'{base}.{n}' in files]
                targets.update(submodules or ([base] if base in files else []))
        targets.discard(name)
        graph[name] = targets
    return graph


def _layer(module: str) -> str:
    """``core``, ``platform``, ``assembly`` or ``product:<package>``."""
    parts = module.split('.')[1:]
    if not parts:
        return 'assembly'
    if len(parts) == 1 and (ROOT / f'{parts[0]}.py').exists():
        return 'assembly' if parts[0] in ASSEMBLY else 'platform'
    if parts[0] in NOT_PRODUCTS:
        return parts[0] if parts[0] == 'core' else 'platform'
    return f'product:{parts[0]}'


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def connect(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))
    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def _violations(graph: dict[str, set[str]]) -> list[str]:
    out = []
    for module, targets in sorted(graph.items()):
        layer = _layer(module)
        if layer == 'assembly':
            continue
        for target in sorted(targets):
            target_layer = _layer(target)
            if target_layer == 'assembly':
                out.append(f'{module} ({layer}) imports the assembly module {target}')
            elif target_layer.startswith('product:') and target_layer != layer:
                out.append(f'{module} ({layer}) imports {target} ({target_layer})')
    return out


def test_the_emulator_has_no_import_cycle():
    assert _cycles(_graph()) == []


def test_products_import_only_core_the_platform_and_themselves():
    assert _violations(_graph()) == []


def test_the_graph_sees_every_product_and_its_imports():
    """Guards the checker itself: it must find the products and their imports of core."""
    graph = _graph()
    products = {_layer(m) for m in graph if _layer(m).startswith('product:')}
    assert {'product:identity', 'product:defender_xdr', 'product:defender_endpoint',
            'product:threat_intelligence'} <= products
    assert 'microsoft_emulator.core.api' in graph['microsoft_emulator.defender_endpoint.common']
    assert 'microsoft_emulator.defender_xdr.store' in graph['microsoft_emulator.defender_xdr.routes']


@pytest.mark.parametrize('graph, expected', [
    ({'microsoft_emulator.a': {'microsoft_emulator.b'}, 'microsoft_emulator.b': {'microsoft_emulator.a'}},
     [['microsoft_emulator.a', 'microsoft_emulator.b']]),
    ({'microsoft_emulator.a': {'microsoft_emulator.b'}, 'microsoft_emulator.b': set()}, []),
])
def test_the_cycle_finder_finds_cycles(graph, expected):
    assert _cycles(graph) == expected


def test_a_product_importing_another_is_reported():
    graph = {'microsoft_emulator.defender_endpoint.routes': {'microsoft_emulator.defender_xdr.store',
                                                              'microsoft_emulator.core.clock'}}
    assert _violations(graph) == ['microsoft_emulator.defender_endpoint.routes (product:defender_endpoint) imports '
                                  'microsoft_emulator.defender_xdr.store (product:defender_xdr)']


def test_one_odata_engine_and_one_store_registry():
    """Only core defines the OData engine and the store registry: no product grows its own parser or keeps its
    store on the context by hand."""
    core_only = {'ODataError', 'FilterParser', 'StoreRegistry', 'Prop'}
    found = []
    for path in ROOT.rglob('*.py'):
        parts = path.relative_to(ROOT).parts
        if parts[0] in ('core', 'tests'):
            continue
        source = path.read_text(encoding='utf-8')
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ClassDef) and node.name in core_only:
                found.append(f'{"/".join(parts)} defines {node.name}')
        if 'reset_hooks' in source or 'setattr(ctx' in source:
            found.append(f'{"/".join(parts)} attaches state to the context by hand')
    assert found == []
