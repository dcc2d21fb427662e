import { Component, type ComponentChildren } from "preact";
import { ErrorNotice } from "./ErrorNotice";

/** Keeps one view's bug inside that view: the navigation and the other views keep working. */
export class ErrorBoundary extends Component<{ children: ComponentChildren }, { error: Error | null }> {
  state = { error: null as Error | null };

  componentDidCatch(error: Error) {
    this.setState({ error });
  }

  render() {
    if (this.state.error) {
      return (
        <ErrorNotice
          error={{ kind: "internal", message: `This view hit an unexpected error: ${this.state.error.message}. The other views still work.`, detail: String(this.state.error.stack ?? "") }}
        />
      );
    }
    return this.props.children;
  }
}
