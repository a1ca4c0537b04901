//! `#[cfg(…)]` and `cfg!(…)` evaluated for a Linux (musl) non-test build.

/// Whether `#[cfg(…)]` attributes keep an item for a Linux (musl) non-test build. Unknown
/// predicates (features, custom cfgs) count as true: the item may be compiled.
pub fn cfg_enabled(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().all(|a| {
        if a.path().is_ident("test") {
            return false;
        }
        if !a.path().is_ident("cfg") {
            return true;
        }
        match a.parse_args::<syn::Meta>() {
            Ok(m) => eval_cfg(&m),
            Err(_) => true,
        }
    })
}

pub(super) fn eval_cfg(m: &syn::Meta) -> bool {
    match m {
        syn::Meta::Path(p) => {
            let id = p.get_ident().map(|i| i.to_string()).unwrap_or_default();
            !matches!(id.as_str(), "test" | "windows" | "miri")
        }
        syn::Meta::NameValue(nv) => {
            let key = nv
                .path
                .get_ident()
                .map(|i| i.to_string())
                .unwrap_or_default();
            let syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) = &nv.value
            else {
                return true;
            };
            let v = s.value();
            match key.as_str() {
                "target_os" => v == "linux",
                "target_family" => v == "unix",
                "target_env" => v == "musl",
                "target_vendor" => v == "unknown",
                _ => true,
            }
        }
        syn::Meta::List(l) => {
            let name = l
                .path
                .get_ident()
                .map(|i| i.to_string())
                .unwrap_or_default();
            let args = l
                .parse_args_with(
                    syn::punctuated::Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated,
                )
                .map(|p| p.into_iter().collect::<Vec<_>>());
            let Ok(args) = args else { return true };
            match name.as_str() {
                "not" => args.first().is_none_or(|a| !eval_cfg(a)),
                "all" => args.iter().all(eval_cfg),
                "any" => args.iter().any(eval_cfg),
                _ => true,
            }
        }
    }
}

pub(super) fn item_attrs(i: &syn::Item) -> &[syn::Attribute] {
    match i {
        syn::Item::Const(x) => &x.attrs,
        syn::Item::Enum(x) => &x.attrs,
        syn::Item::ExternCrate(x) => &x.attrs,
        syn::Item::Fn(x) => &x.attrs,
        syn::Item::ForeignMod(x) => &x.attrs,
        syn::Item::Impl(x) => &x.attrs,
        syn::Item::Macro(x) => &x.attrs,
        syn::Item::Mod(x) => &x.attrs,
        syn::Item::Static(x) => &x.attrs,
        syn::Item::Struct(x) => &x.attrs,
        syn::Item::Trait(x) => &x.attrs,
        syn::Item::TraitAlias(x) => &x.attrs,
        syn::Item::Type(x) => &x.attrs,
        syn::Item::Union(x) => &x.attrs,
        syn::Item::Use(x) => &x.attrs,
        _ => &[],
    }
}

pub(super) fn item_enabled(i: &syn::Item) -> bool {
    cfg_enabled(item_attrs(i))
}
/// The value of a `cfg!(…)` condition (also negated with `!`) for a Linux non-test build.
pub(super) fn cfg_macro_value(cond: &syn::Expr) -> Option<bool> {
    match cond {
        syn::Expr::Macro(m) if m.mac.path.is_ident("cfg") => m
            .mac
            .parse_body::<syn::Meta>()
            .ok()
            .map(|meta| eval_cfg(&meta)),
        syn::Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Not(_),
            expr,
            ..
        }) => cfg_macro_value(expr).map(|v| !v),
        syn::Expr::Paren(p) => cfg_macro_value(&p.expr),
        _ => None,
    }
}
