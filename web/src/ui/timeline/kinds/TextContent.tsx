import { RichText } from "../../common";
import type { ContentProps } from "./types";

export function TextContent({ content }: ContentProps<"text">) {
  return <RichText text={content.text} />;
}
