import { MediaPlaceholder } from "./MediaPlaceholder";
import type { ContentProps } from "./types";

export function FileContent({ content }: ContentProps<"file">) {
  return <MediaPlaceholder kind="file" icon="📎" media={content.media} />;
}
