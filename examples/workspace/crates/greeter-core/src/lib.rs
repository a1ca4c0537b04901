/// A greeting for `name`, in `lang` (en, fr, de; anything else falls back to en).
pub fn greet(name: &str, lang: &str) -> String {
    let word = match lang {
        "fr" => "Bonjour",
        "de" => "Hallo",
        _ => "Hello",
    };
    format!("{word}, {name}!")
}

#[cfg(test)]
mod tests {
    #[test]
    fn greets_in_three_languages() {
        assert_eq!(super::greet("Ada", "fr"), "Bonjour, Ada!");
        assert_eq!(super::greet("Ada", "xx"), "Hello, Ada!");
    }
}
