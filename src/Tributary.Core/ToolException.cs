namespace Tributary.Core;

/// <summary>A failure the model can act on: its message is safe to show and says what to do instead.</summary>
public class ToolException : Exception
{
    /// <summary>Creates the exception with a message for the model.</summary>
    public ToolException(string message) : base(message) { }

    /// <summary>Creates the exception with a message for the model and the underlying cause.</summary>
    public ToolException(string message, Exception inner) : base(message, inner) { }

    /// <summary>Creates the exception without a message (prefer a message that says what to do).</summary>
    public ToolException() { }
}
