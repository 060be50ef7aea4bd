/**
 * Finds the types a package's public signatures use but none of its entry points exports ("forgotten exports", as
 * API Extractor calls them): a user can meet such a type (a parameter, a field, a return value) but cannot name it.
 * Works on the installed package's declaration files, through the TypeScript compiler API.
 */
import ts from 'typescript';

export interface ForgottenExport {
  /** The type's name. */
  readonly name: string;
  /** The exported (or itself forgotten) declaration that uses it. */
  readonly usedBy: string;
  /** Its declaration file, relative to the package. */
  readonly file: string;
}

function resolved(checker: ts.TypeChecker, symbol: ts.Symbol): ts.Symbol {
  return symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
}

/**
 * @param userFile a file that imports each entry point (`import type * as a from 'pkg'` ...)
 * @param packageDir the installed package's folder (types declared outside it are not the package's)
 * @param options compiler options of the user's project
 */
export function forgottenExports(
  userFile: string,
  packageDir: string,
  options: ts.CompilerOptions,
): { entryPoints: string[]; forgotten: ForgottenExport[] } {
  const program = ts.createProgram([userFile], options);
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(userFile);
  if (source === undefined) throw new Error(`cannot read ${userFile}`);
  const inPackage = (declaration: ts.Declaration) => declaration.getSourceFile().fileName.startsWith(packageDir);

  const entryPoints: string[] = [];
  const exported = new Set<ts.Symbol>();
  for (const statement of source.statements) {
    if (!ts.isImportDeclaration(statement)) continue;
    const moduleSymbol = checker.getSymbolAtLocation(statement.moduleSpecifier);
    if (moduleSymbol === undefined) throw new Error(`cannot resolve ${statement.moduleSpecifier.getText(source)}`);
    entryPoints.push((statement.moduleSpecifier as ts.StringLiteral).text);
    for (const symbol of checker.getExportsOfModule(moduleSymbol)) exported.add(resolved(checker, symbol));
  }

  const forgotten = new Map<ts.Symbol, ForgottenExport>();
  const queue: { symbol: ts.Symbol; name: string }[] = [...exported].map((symbol) => ({ symbol, name: symbol.name }));
  const seen = new Set<ts.Symbol>(exported);

  const visitReference = (node: ts.Node, owner: string) => {
    const target = ts.isTypeReferenceNode(node)
      ? node.typeName
      : ts.isExpressionWithTypeArguments(node)
        ? node.expression
        : ts.isTypeQueryNode(node)
          ? node.exprName
          : undefined;
    if (target === undefined) return;
    const found = checker.getSymbolAtLocation(target);
    if (found === undefined) return;
    const symbol = resolved(checker, found);
    if (symbol.flags & ts.SymbolFlags.TypeParameter) return;
    const declarations = (symbol.declarations ?? []).filter(inPackage);
    if (declarations.length === 0 || seen.has(symbol)) return;
    seen.add(symbol);
    const file = (declarations[0] as ts.Declaration).getSourceFile().fileName.slice(packageDir.length + 1);
    forgotten.set(symbol, { name: symbol.name, usedBy: owner, file });
    queue.push({ symbol, name: symbol.name });
  };

  const visit = (node: ts.Node, owner: string): void => {
    // what a user cannot see: private members (emitted without types) and the bodies a .d.ts has none of
    if (ts.canHaveModifiers(node) && ts.getModifiers(node)?.some((m) => m.kind === ts.SyntaxKind.PrivateKeyword)) {
      return;
    }
    visitReference(node, owner);
    ts.forEachChild(node, (child) => visit(child, owner));
  };

  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    for (const declaration of (next.symbol.declarations ?? []).filter(inPackage)) visit(declaration, next.name);
  }
  return { entryPoints, forgotten: [...forgotten.values()] };
}
